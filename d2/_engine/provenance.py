"""Record what a labelled tool returned, so ``not_from`` can tell later where a value came from.

Called by the guard (and by ``d2 test``'s replay) after a call ran and its output rules applied: the
caller, and so the model, sees exactly the recorded value. Only tools that emit a label declared under
``data_flow.untrusted`` are recorded; everything else costs one dictionary lookup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from d2._core.model import CompiledPolicy
    from d2._core.state import RequestState

__all__ = ["track_output"]


def track_output(policy: CompiledPolicy, state: RequestState, tool: str, value: Any) -> None:
    """Remember the values in ``value`` under the untrusted labels ``tool`` emits (if any)."""
    flow = policy.flow
    labels = flow.tracked.get(tool) if flow is not None else None
    if labels:
        # Imported here: only policies that track untrusted content pay for the value-key machinery.
        from d2._core.origins import origins_of

        origins_of(state.log).provenance.record(labels, value, state.log.lock)
