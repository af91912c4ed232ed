"""Drafts, publish and revoke: validated with the linter's own compiler, guarded by ETag preconditions.

A publish must say what it expects the app's head to be (``If-Match: "v7..."``, or ``If-None-Match: *``
for the first one); the head moves by compare-and-set, so of two publishers holding the same ETag
exactly one wins and the other gets 412. A request without any precondition gets 428.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from d2._toolkit import compile_policy, parse_policy_text
from d2.exceptions import ConfigurationError

from .bodies import parse_json
from .config import ApiError
from .service import ControlPlane, Principal, etag_version
from .storage import DraftRecord

__all__ = ["MAX_REVOKE_BYTES", "get_draft", "publish", "put_draft", "revoke", "status", "validate"]

FORMATS = ("yaml", "json")
MAX_REVOKE_BYTES = 64 * 1024
# Versions are stored as 64-bit integers; anything larger cannot name a published version.
_MAX_VERSION = 2**62


def validate(text: str, label: str) -> list[dict[str, Any]]:
    """Run the same checks as ``d2 lint``; return every diagnostic as JSON-ready data."""
    try:
        result = compile_policy(parse_policy_text(text, label))
        diagnostics = result.diagnostics
    except ConfigurationError as exc:
        diagnostics = exc.diagnostics or ()
        if not diagnostics:
            return [_whole_file_error(str(exc))]
    except RecursionError:
        return [_whole_file_error(f"{label}: the policy is nested too deeply to load")]
    except (MemoryError, UnicodeError, ValueError) as exc:
        return [_whole_file_error(f"{label}: the policy cannot be read: {type(exc).__name__}")]
    return [
        {
            "code": d.code,
            "severity": "error" if d.is_error else "warning",
            "message": d.message,
            "file": d.file,
            "line": d.line,
            "col": d.col,
            "hint": d.hint,
            "rendered": d.render(),
        }
        for d in diagnostics
    ]


def _whole_file_error(message: str) -> dict[str, Any]:
    return {
        "code": "D2E001",
        "severity": "error",
        "message": message,
        "file": None,
        "line": 1,
        "col": 1,
        "hint": None,
        "rendered": message,
    }


def _errors(diagnostics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in diagnostics if d["severity"] == "error"]


def parse_body(raw: bytes, limit: int) -> dict[str, Any]:
    """Parse a request body as a strict JSON object (see :mod:`.bodies`); an empty body is ``{}``."""
    if len(raw) > limit:
        raise ApiError(413, "too_large", f"request body is {len(raw)} bytes, over the {limit}-byte limit")
    data = parse_json(raw or b"{}")
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", "the request body must be a JSON object")
    return data


def _policy_field(data: Mapping[str, Any]) -> tuple[str, str]:
    text, fmt = data.get("policy"), data.get("format", "yaml")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "policy_required", 'send {"policy": "<policy text>", "format": "yaml"}')
    if fmt not in FORMATS:
        raise ApiError(400, "bad_format", f"format must be one of {', '.join(FORMATS)}")
    return text, fmt


def put_draft(cp: ControlPlane, who: Principal, data: Mapping[str, Any]) -> dict[str, Any]:
    """Store the app's draft (kept even when invalid, so work in progress is never lost)."""
    text, fmt = _policy_field(data)
    diagnostics = validate(text, f"draft:{who.app.name}")
    cp.storage.put_draft(DraftRecord(who.app.id, text, fmt, int(time.time()), who.token.id))
    return {"app": who.app.name, "valid": not _errors(diagnostics), "diagnostics": diagnostics}


def get_draft(cp: ControlPlane, who: Principal) -> dict[str, Any]:
    draft = cp.storage.get_draft(who.app.id)
    if draft is None:
        raise ApiError(404, "no_draft", f"app {who.app.name!r} has no draft; upload one with `d2 draft`")
    return {
        "app": who.app.name,
        "policy": draft.policy_text,
        "format": draft.policy_format,
        "updated_at": draft.updated_at,
    }


def expected_head(head: int, if_match: str | None, if_none_match: str | None) -> int:
    """Turn the precondition headers into the head version the publisher expects."""
    if if_none_match is not None and if_none_match.strip() == "*":
        return 0
    if if_match is None:
        raise ApiError(
            428,
            "precondition_required",
            "send If-Match: <ETag of the version you edited>, or If-None-Match: * for a first publish",
        )
    if if_match.strip() == "*":
        if head == 0:
            raise ApiError(412, "precondition_failed", "If-Match: * but nothing is published yet")
        return head
    version = etag_version(if_match)
    if version is None:
        raise ApiError(412, "precondition_failed", f"If-Match {if_match!r} is not an ETag this server issued")
    return version


def publish(
    cp: ControlPlane,
    who: Principal,
    data: Mapping[str, Any],
    *,
    if_match: str | None,
    if_none_match: str | None,
    device_kid: str | None,
) -> dict[str, Any]:
    """Validate, sign and append a new version; 412 when the head moved, 422 when the policy is invalid."""
    if data.get("from_draft"):
        draft = cp.storage.get_draft(who.app.id)
        if draft is None:
            raise ApiError(404, "no_draft", f"app {who.app.name!r} has no draft to publish")
        text, fmt = draft.policy_text, draft.policy_format
    else:
        text, fmt = _policy_field(data)
    app = cp.storage.get_app_by_id(who.app.id)
    assert app is not None
    expected = expected_head(app.head_version, if_match, if_none_match)
    diagnostics = validate(text, f"publish:{app.name}")
    if _errors(diagnostics):
        raise ApiError(
            422,
            "invalid_policy",
            "the policy does not lint clean; nothing was published",
            extra={"diagnostics": diagnostics},
        )
    record = cp.new_version(who, version=expected + 1, text=text, fmt=fmt, device_kid=device_kid)
    cp.commit(record, expected)
    return _version_answer(app.name, record, diagnostics)


def _restore_version(value: Any) -> int | None:
    """``restore`` names a published version: a positive integer (never a boolean), or absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_VERSION:
        raise ApiError(400, "bad_restore", f'"restore" must be a published version number, got {value!r:.40}')
    return value


def revoke(
    cp: ControlPlane,
    who: Principal,
    data: Mapping[str, Any],
    *,
    if_match: str | None,
    device_kid: str | None = None,
) -> dict[str, Any]:
    """Append a revocation (every guarded call refused) or, with ``restore``, re-issue an older version."""
    app = cp.storage.get_app_by_id(who.app.id)
    assert app is not None
    head = cp.storage.head(app.id)
    if head is None:
        raise ApiError(404, "nothing_published", f"app {app.name!r} has nothing published to revoke")
    if device_kid is not None and if_match is None:
        # A signature binds the precondition; without one a captured request would fit any head.
        raise ApiError(
            428, "precondition_required", "a signed revoke or restore must send If-Match: <head ETag>"
        )
    expected = expected_head(app.head_version, if_match, None) if if_match else app.head_version
    if expected != head.version:
        # The precondition is checked first: a replayed or stale request never learns more than 412.
        raise ApiError(
            412,
            "precondition_failed",
            f"app {app.name!r} is at {head.etag}, not v{expected}: pull and decide again",
            headers={"ETag": head.etag},
        )
    restore = _restore_version(data.get("restore"))
    text: str | None = None
    fmt = head.policy_format
    if restore is not None:
        old = cp.storage.get_version(app.id, restore)
        if old is None or old.policy_text is None:
            raise ApiError(404, "unknown_version", f"app {app.name!r} has no published version {restore!r}")
        text, fmt = old.policy_text, old.policy_format
    elif head.kind == "revoke":
        raise ApiError(409, "already_revoked", f"app {app.name!r} is already revoked (v{head.version})")
    record = cp.new_version(who, version=expected + 1, text=text, fmt=fmt, device_kid=device_kid)
    cp.commit(record, expected)
    answer = _version_answer(app.name, record, [])
    answer["revoked_version"] = head.version
    return answer


def status(cp: ControlPlane, who: Principal) -> dict[str, Any]:
    """What a token sees: its kind and scopes, the app's head and draft, the signing key ids."""
    head = cp.storage.head(who.app.id)
    draft = cp.storage.get_draft(who.app.id)
    return {
        "app": who.app.name,
        "token": {"id": who.token.id, "kind": who.token.kind, "scopes": sorted(who.token.scopes)},
        "head": None
        if head is None
        else {
            "version": head.version,
            "etag": head.etag,
            "kind": head.kind,
            "kid": head.kid,
            "expires_at": head.expires_at,
            "created_at": head.created_at,
            "sha256": head.policy_sha256,
        },
        "draft": None if draft is None else {"updated_at": draft.updated_at, "format": draft.policy_format},
        "keys": [k["kid"] for k in cp.keys.jwks()["keys"]],
    }


def _version_answer(app: str, record: Any, diagnostics: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "app": app,
        "version": record.version,
        "kind": record.kind,
        "etag": record.etag,
        "kid": record.kid,
        "sha256": record.policy_sha256,
        "expires_at": record.expires_at,
        "diagnostics": diagnostics,
    }
