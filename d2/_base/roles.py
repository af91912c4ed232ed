"""Role sets as sorted tuples, memoised: refusals and decision events show roles in a stable order."""

from __future__ import annotations

__all__ = ["sorted_roles"]

_SORTED: dict[frozenset[str], tuple[str, ...]] = {}
_LIMIT = 4096


def sorted_roles(roles: frozenset[str]) -> tuple[str, ...]:
    """``tuple(sorted(roles))``, computed once per distinct role set (a bounded memo)."""
    found = _SORTED.get(roles)
    if found is None:
        if len(_SORTED) >= _LIMIT:
            _SORTED.clear()
        found = _SORTED[roles] = tuple(sorted(roles))
    return found
