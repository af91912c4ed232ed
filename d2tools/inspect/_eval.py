"""``d2 eval``: one decision from a JSON input, made by the real engine, like ``opa eval``.

The input names the user, roles, tool, arguments, earlier calls of the request and user attributes;
the answer is the decision the guard would make, with the reason code and the deciding rule's place.
Names the policy does not know get a did-you-mean, since a typo there reads as a plain denial.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from d2._toolkit import CompiledPolicy, RequestLog, RequestState, UserContext, authorize, suggest
from d2.exceptions import PermissionDeniedError, Reason

__all__ = ["EvalInput", "InputError", "evaluate", "name_hints", "parse_input"]

_KEYS = ("user", "roles", "tool", "args", "history", "attributes")


class InputError(ValueError):
    """An eval input that is not usable; the message says which field and what is expected."""


@dataclass(frozen=True, slots=True)
class EvalInput:
    """One call to decide."""

    tool: str
    roles: tuple[str, ...]
    user: str = "eval"
    args: Mapping[str, Any] = field(default_factory=dict)
    history: tuple[str, ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)


def parse_input(data: Any) -> EvalInput:
    """Check the input's shape: ``{"tool": str, "roles": [str], "user"?, "args"?, "history"?, ...}``."""
    if not isinstance(data, Mapping):
        raise InputError(
            'the input must be a JSON object, e.g. {"roles": ["viewer"], "tool": "billing.read"}'
        )
    for key in data:
        if key not in _KEYS:
            guess = suggest(str(key), list(_KEYS))
            raise InputError(f"unknown input key '{key}'" + (f" (did you mean '{guess}'?)" if guess else ""))
    tool, roles = data.get("tool"), data.get("roles", [])
    if not isinstance(tool, str) or not tool:
        raise InputError("'tool' must be a non-empty string: the tool id to decide")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InputError("'roles' must be a list of strings")
    history = data.get("history", [])
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        raise InputError("'history' must be a list of tool ids called earlier in the request")
    for key in ("args", "attributes"):
        if not isinstance(data.get(key, {}), Mapping):
            raise InputError(f"'{key}' must be an object")
    user = data.get("user", "eval")
    if not isinstance(user, str):
        raise InputError("'user' must be a string")
    return EvalInput(
        tool, tuple(roles), user, dict(data.get("args", {})), tuple(history), dict(data.get("attributes", {}))
    )


def name_hints(policy: CompiledPolicy, tool: str, roles: tuple[str, ...]) -> list[str]:
    """Say which tool and role names the policy does not know, with the nearest known one."""
    hints = []
    if tool not in policy.known_tools and not any(r in policy.wildcard for r in roles):
        guess = suggest(tool, sorted(policy.known_tools))
        hints.append(f"the policy names no tool '{tool}'" + (f"; did you mean '{guess}'?" if guess else ""))
    for role in roles:
        if role not in policy.roles:
            guess = suggest(role, sorted(policy.roles))
            hints.append(f"the policy has no role '{role}'" + (f"; did you mean '{guess}'?" if guess else ""))
    return hints


def evaluate(policy: CompiledPolicy, call: EvalInput, *, now: datetime | None = None) -> dict[str, Any]:
    """Decide ``call`` and return the decision as plain data (``allowed``, ``reason``, ``location`` ...)."""
    answer: dict[str, Any] = {
        "tool": call.tool,
        "user": call.user,
        "roles": list(call.roles),
        "allowed": False,
        "reason": None,
        "location": None,
        "detail": None,
        "hints": name_hints(policy, call.tool, call.roles),
    }
    current = now or datetime.now(timezone.utc)
    if policy.expires is not None and policy.expires <= current:
        detail = f"the policy expired at {policy.expires.isoformat()}; every call is refused"
        return {**answer, "reason": str(Reason.POLICY_EXPIRED), "location": policy.source, "detail": detail}
    user = UserContext(call.user, frozenset(call.roles), call.attributes)
    state = RequestState(user, RequestLog())
    args = dict(call.args)
    for earlier in call.history:
        try:
            authorize(policy, state, earlier, dict)
        except PermissionDeniedError as exc:
            detail = f"the earlier call to '{earlier}' (history) is refused: {exc.detail or exc.reason}"
            return {**answer, "reason": str(exc.reason), "location": _where(exc.location), "detail": detail}
    try:
        authorize(policy, state, call.tool, lambda: args)
    except PermissionDeniedError as exc:
        return {
            **answer,
            "reason": str(exc.reason),
            "location": _where(exc.location),
            "detail": exc.detail,
        }
    return {**answer, "allowed": True}


def _where(location: Any) -> str | None:
    return None if location is None else str(location)
