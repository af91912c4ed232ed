"""Read-only views of a policy for people: ``d2 diagnose`` (health) and ``d2 inspect`` (contents)."""

from __future__ import annotations

from ._diagnose import Diagnosis, diagnose
from ._explain import Explanation, explain
from ._view import PolicyView, RoleView, ToolView, build_view

__all__ = [
    "Diagnosis",
    "Explanation",
    "PolicyView",
    "RoleView",
    "ToolView",
    "build_view",
    "diagnose",
    "explain",
]
