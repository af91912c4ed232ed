"""Who is acting and what their request did: the vendor SDK's ``d2.context`` module path.

A thin public view of the runtime's context API, so code written for the vendor SDK
(``from d2.context import get_current_user``) runs unchanged. The same names are on ``d2`` itself.
"""

from __future__ import annotations

from d2._runtime.context import (
    UserContext,
    clear_user_context,
    get_current_user,
    get_user_context,
    get_user_id,
    get_user_roles,
    is_context_set,
    run_as,
    set_user,
    set_user_context,
    warn_if_context_set,
)
from d2._runtime.facts import get_facts, has_any_fact, has_fact, record_fact, record_facts

__all__ = [
    "UserContext",
    "clear_user_context",
    "get_current_user",
    "get_facts",
    "get_user_context",
    "get_user_id",
    "get_user_roles",
    "has_any_fact",
    "has_fact",
    "is_context_set",
    "record_fact",
    "record_facts",
    "run_as",
    "set_user",
    "set_user_context",
    "warn_if_context_set",
]
