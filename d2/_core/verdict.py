"""What a failed check reports: light enough for the engine to import when ``import d2`` runs.

The compiled-policy model (``d2._core.model``) is only needed once a policy is compiled; a refusal's
:class:`Violation` and a missing attribute's :class:`MissingAttribute` are needed by the engine itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from d2._base.diagnostics import Location

__all__ = ["MissingAttribute", "Violation"]


class MissingAttribute(Exception):
    """Raised by an attribute-bound test whose attribute is absent or unusable: the call is refused."""

    def __init__(self, ref: object, op: str, where: Location | None, problem: str) -> None:
        super().__init__(f"attribute '{ref}' {problem}")
        self.ref = ref
        self.op = op
        self.where = where
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Violation:
    """Why a condition failed: which parameter or field, which operator, and the rule's location."""

    reason: str
    target: str
    operator: str
    location: Location
    message: str
    value: Any = None
