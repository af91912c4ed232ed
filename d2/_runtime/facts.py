"""The facts API: data-flow labels of the current request (set by policy, or by hand)."""

from __future__ import annotations

from collections.abc import Iterable

from d2._runtime.context import current_state
from d2.exceptions import D2NoContextError

__all__ = ["get_facts", "has_any_fact", "has_fact", "record_fact", "record_facts"]


def record_fact(label: str) -> None:
    """Add a label to the current request (e.g. after reading untrusted content outside a guarded tool)."""
    record_facts((label,))


def record_facts(labels: Iterable[str]) -> None:
    """Add several labels to the current request; labels only accumulate until the request ends."""
    state = current_state()
    if state is None:
        raise D2NoContextError("cannot record facts outside a request; set a user context first")
    items = [labels] if isinstance(labels, str) else list(labels)
    for label in items:
        if not isinstance(label, str) or not label:
            raise TypeError(f"a fact label must be a non-empty string, got {label!r}")
    with state.log.lock:
        if state.log.shared is None:
            state.log.facts.update(items)
            return
        from d2._runtime.session import share_labels

        share_labels(state, items)


def get_facts() -> frozenset[str]:
    """Return the labels of the current request (empty outside a request)."""
    state = current_state()
    if state is None:
        return frozenset()
    with state.log.lock:
        return frozenset(state.log.facts)


def has_fact(label: str) -> bool:
    """True when the current request carries ``label``."""
    state = current_state()
    return state is not None and label in state.log.facts


def has_any_fact(labels: Iterable[str]) -> bool:
    """True when the current request carries any of ``labels``."""
    state = current_state()
    if state is None:
        return False
    facts = state.log.facts
    return any(label in facts for label in ([labels] if isinstance(labels, str) else labels))
