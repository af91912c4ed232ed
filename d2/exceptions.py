"""The d2 exception tree.

Every error d2 raises derives from :class:`D2Error`::

    D2Error
    ├── PermissionDeniedError        a guarded call was refused (the tool did not run)
    │   ├── D2NoContextError         no user context was set for the call
    │   ├── MissingPolicyError       no policy is loaded (none found, none configured, none fetched)
    │   └── BundleExpiredError       the policy passed its expiry (also a PolicyError)
    ├── PolicyError                  a policy or bundle cannot be used (the vendor SDK's base class)
    │   ├── InvalidSignatureError    a signed bundle failed verification
    │   ├── PolicyTooLargeError      a policy exceeds a configured memory-safety limit
    │   │   └── TooManyToolsError    ... in number of tools
    │   └── BundleExpiredError
    ├── ConfigurationError           a policy or setting is invalid; carries every diagnostic
    └── D2PlanLimitError             a control plane refused for a plan limit (HTTP 402)

    ContextLeakWarning (a ResourceWarning)   a user context was left set (see warn_if_context_set)

A refusal carries a machine-readable ``reason`` (see :class:`Reason`), the tool, the user and roles,
and the policy location of the deciding rule, so a handler can map it to an HTTP status or a log line
without parsing text. Argument and output values are never put in the message (they can be secrets);
the offending value is available as ``exc.value`` for the caller's own logging.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any

from d2._base.roles import sorted_roles

if TYPE_CHECKING:
    from d2._base.diagnostics import Diagnostic

__all__ = [
    "BundleExpiredError",
    "ConfigurationError",
    "ContextLeakWarning",
    "D2Error",
    "D2NoContextError",
    "D2PlanLimitError",
    "InvalidSignatureError",
    "MissingPolicyError",
    "PermissionDeniedError",
    "PolicyError",
    "PolicyTooLargeError",
    "Reason",
    "TooManyToolsError",
]


class Reason(str, Enum):
    """Why a call was refused; compares equal to its string value (``exc.reason == "rbac"``)."""

    NO_CONTEXT = "no_context"
    NO_POLICY = "no_policy"
    POLICY_EXPIRED = "policy_expired"
    UNKNOWN_TOOL = "unknown_tool"
    RBAC = "rbac"
    EXPLICIT_DENY = "explicit_deny"
    INPUT_VALIDATION = "input_validation"
    MISSING_ATTRIBUTE = "missing_attribute"
    RESTRICTION = "restriction"
    SEQUENCE_VIOLATION = "sequence_violation"
    DATA_FLOW = "data_flow"
    OUTPUT_VALIDATION = "output_validation"
    OUTPUT_SANITIZATION = "output_sanitization"
    STRICT_SYNC = "strict_sync"
    INTERNAL_ERROR = "internal_error"
    STATE_UNAVAILABLE = "state_unavailable"
    SESSION_INVALID = "session_invalid"

    def __str__(self) -> str:
        return self.value


class D2Error(Exception):
    """Base class of every error raised by d2."""


_REFUSAL_FIELDS = ("reason", "tool_id", "user_id", "roles", "location", "detail", "value", "_message")


class PermissionDeniedError(D2Error):
    """A guarded call was refused; the tool body did not run (or its output was withheld)."""

    # Slots, not the instance dict: refusals are built on the hot path, and a slot store costs a
    # fraction of a dict insert. The instance dict still exists for attributes callers add.
    __slots__ = _REFUSAL_FIELDS
    default_reason: Reason = Reason.RBAC

    def __init__(
        self,
        message: str = "",
        user_id_: str | None = None,
        roles_: Iterable[str] | None = None,
        /,
        *,
        reason: Reason | str | None = None,
        tool_id: str | None = None,
        user_id: str | None = None,
        roles: Iterable[str] = (),
        location: str | None = None,
        detail: str | None = None,
        value: Any = None,
    ) -> None:
        if user_id_ is not None or roles_ is not None:
            # The vendor SDK's form: PermissionDeniedError(tool_id, user_id, roles, reason="...").
            tool_id, user_id, roles, message = message, user_id_, roles_ or (), ""
        self.reason: Reason | str = _as_reason(reason) if reason is not None else self.default_reason
        self.tool_id = tool_id
        self.user_id = user_id
        self.roles: tuple[str, ...] = tuple(sorted(roles)) if roles else ()
        self.location = location
        self.detail = detail
        self.value = value
        self._message = message
        super().__init__(message)

    def __str__(self) -> str:
        # Built on demand: a refusal handled by on_deny is never formatted.
        return self._message or self._default_message()

    def _default_message(self) -> str:
        # Starts with the vendor SDK's wording (code in the wild matches on it), then the reason code.
        who = repr(self.user_id) if self.user_id is not None else "None"
        text = (
            f"Permission denied for user {who} (roles: {list(self.roles)}) "
            f"to access tool {self.tool_id!r}. Reason: {self.reason}"
        )
        if self.detail:
            text += f": {self.detail}"
        if self.location:
            text += f" (rule at {self.location})"
        return text

    @classmethod
    def _refusal(
        cls,
        reason: Reason | str,
        tool_id: str,
        user_id: str | None,
        roles: frozenset[str],
        location: str | None,
        detail: str | None,
        value: Any,
    ) -> PermissionDeniedError:
        """The engine's constructor: the same error as ``cls(reason=..., ...)`` without parsing keyword
        arguments, which costs more than the rest of a refusal (refusals are on the hot path too)."""
        exc = cls.__new__(cls, "")
        exc.reason = _as_reason(reason)
        exc.tool_id = tool_id
        exc.user_id = user_id
        exc.roles = sorted_roles(roles) if roles else ()
        exc.location = location
        exc.detail = detail
        exc.value = value
        exc._message = ""
        return exc

    @property
    def tool(self) -> str | None:
        """The refused tool's id (the vendor SDK also calls it ``tool_id``)."""
        return self.tool_id

    def __reduce__(self) -> tuple[Any, ...]:
        # BaseException pickles args and the instance dict only; the fields live in slots.
        state = {name: getattr(self, name) for name in _REFUSAL_FIELDS if hasattr(self, name)}
        state.update(self.__dict__)
        return (self.__class__, self.args, state)


class D2NoContextError(PermissionDeniedError):
    """A guarded function ran with no user context; set one with ``set_user`` or the middleware."""

    default_reason = Reason.NO_CONTEXT


class PolicyError(D2Error):
    """A policy or signed bundle cannot be used: bad signature, too large, or expired."""


class MissingPolicyError(PermissionDeniedError):
    """No policy is available: none was found, configured, or fetched."""

    default_reason = Reason.NO_POLICY


class BundleExpiredError(PermissionDeniedError, PolicyError):
    """The policy (or signed bundle) passed its ``expires`` time; d2 denies until a fresh one arrives."""

    default_reason = Reason.POLICY_EXPIRED


# How many diagnostics a ConfigurationError's message lists before it says how many more there are.
MESSAGE_DIAGNOSTICS = 20


class ConfigurationError(D2Error):
    """A policy or setting is invalid. ``diagnostics`` holds every problem found, each with its location."""

    def __init__(self, message: str, *, diagnostics: Sequence[Diagnostic] = ()) -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        if self.diagnostics:
            # The message stays readable however many there are; ``diagnostics`` (and ``d2 lint``) has all.
            shown = self.diagnostics[:MESSAGE_DIAGNOSTICS]
            lines = "\n".join(f"  {d.render()}" for d in shown)
            more = len(self.diagnostics) - len(shown)
            if more:
                lines += f"\n  … and {more:,} more (every one is in .diagnostics; `d2 lint` lists them all)"
            message = f"{message}\n{lines}"
        super().__init__(message)


class InvalidSignatureError(PolicyError):
    """A signed policy bundle failed verification (signature, key id, algorithm, audience or version)."""


class PolicyTooLargeError(PolicyError):
    """A policy exceeds a configured memory-safety limit (bytes, tools, rules)."""


class TooManyToolsError(PolicyTooLargeError):
    """A policy names more tools than the configured limit allows."""


class D2PlanLimitError(D2Error):
    """A control plane refused a request for a plan limit (HTTP 402)."""


class ContextLeakWarning(ResourceWarning):
    """A user context was still set where none should be (end of a request, or at configuration)."""


def _as_reason(value: Reason | str) -> Reason | str:
    if value.__class__ is Reason:  # the engine passes members: skip the enum lookup on the refusal path
        return value
    try:
        return Reason(value)
    except ValueError:
        return value
