"""What a model is told when d2 refuses a call: a reason code, a rule location, one fixed sentence.

The exception keeps the full detail (user, roles, arguments, the policy's absolute path) for the
operator and decision events. A model gets nothing it could use to probe the policy or learn who
the user is: no user id, roles, argument values, file paths or rule text (semantics.md, "What a
model sees"). The proxy and every framework adapter build their refusal text here, so all say the
same thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from d2 import PermissionDeniedError

__all__ = ["Refusal", "refusal_for", "short_location"]

_NOT_PERMITTED = "This tool is not permitted for this caller."
_SENTENCES: dict[str, str] = {
    "rbac": _NOT_PERMITTED,
    "explicit_deny": _NOT_PERMITTED,
    "unknown_tool": _NOT_PERMITTED,
    "input_validation": "These arguments are not permitted by the policy.",
    "missing_attribute": "These arguments are not permitted by the policy.",
    "restriction": "These arguments are not permitted by the policy.",
    "sequence_violation": "This call is not permitted after the earlier calls in this session.",
    "data_flow": "This call is not permitted after the earlier calls in this session.",
    "output_validation": "The tool's result was withheld by the policy.",
    "output_sanitization": "The tool's result was withheld by the policy.",
    "upstream_unavailable": "The tool's server is unavailable right now.",
}
_UNDECIDED = "The guard could not decide, so the call was refused."
_ADVICE = "Do not retry it; continue without this call or ask the user."


@dataclass(frozen=True, slots=True)
class Refusal:
    """The model-facing form of a refusal."""

    reason: str
    rule: str | None
    sentence: str

    @property
    def text(self) -> str:
        """One line for a tool-error result: code and rule first, so an agent host can parse them."""
        rule = f"; rule: {self.rule}" if self.rule else ""
        return f"Refused by policy (reason: {self.reason}{rule}). {self.sentence} {_ADVICE}"


def short_location(location: str | None) -> str | None:
    """``/abs/dir/policy.yaml:41:5`` → ``policy.yaml:41``: the rule, without the operator's paths."""
    if not location:
        return None
    parts = location.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return f"{_name(parts[0])}:{parts[1]}"
    if len(parts) >= 2 and parts[-1].isdigit():
        return f"{_name(':'.join(parts[:-1]))}:{parts[-1]}"
    return _name(location)


def _name(path: str) -> str:
    """The file name of a POSIX or Windows path, whichever this process runs on."""
    return re.split(r"[\\/]", path)[-1]


def refusal_for(exc: PermissionDeniedError | None = None, *, reason: str | None = None) -> Refusal:
    """Build the model-facing refusal for ``exc`` (or a bare reason code raised outside the guard)."""
    code = str(exc.reason) if exc is not None else (reason or "internal_error")
    rule = short_location(exc.location) if exc is not None else None
    return Refusal(code, rule, _SENTENCES.get(code, _UNDECIDED))
