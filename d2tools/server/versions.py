"""Version history of an app: list its versions and read one, so restores and diffs are not guesses.

``GET /v1/policy/versions?limit=N`` lists the newest versions first (publish or revoke, who and when,
the policy's SHA-256); ``GET /v1/policy/versions/{n}`` returns one version with its policy text.
Both need a developer token (``policy:write``): a runtime token reads only the signed head bundle.
"""

from __future__ import annotations

from typing import Any

from .config import ApiError
from .service import ControlPlane, Principal
from .storage import VersionRecord

__all__ = ["MAX_LIMIT", "get_version", "list_versions"]

MAX_LIMIT = 500


def _summary(record: VersionRecord) -> dict[str, Any]:
    return {
        "version": record.version,
        "kind": record.kind,
        "created_at": record.created_at,
        "created_by": record.created_by,
        "device_kid": record.device_kid,
        "sha256": record.policy_sha256,
        "format": record.policy_format,
        "etag": record.etag,
    }


def list_versions(cp: ControlPlane, who: Principal, limit: int) -> dict[str, Any]:
    """The app's newest ``limit`` versions, head first."""
    if limit < 1 or limit > MAX_LIMIT:
        raise ApiError(400, "bad_limit", f"limit must be between 1 and {MAX_LIMIT}")
    app = cp.storage.get_app_by_id(who.app.id)
    if app is None:
        raise ApiError(404, "unknown_app", "the app no longer exists")
    found: list[dict[str, Any]] = []
    version = app.head_version
    while version >= 1 and len(found) < limit:
        record = cp.storage.get_version(app.id, version)
        if record is not None:
            found.append(_summary(record))
        version -= 1
    return {"app": app.name, "head_version": app.head_version, "versions": found}


def get_version(cp: ControlPlane, who: Principal, raw: str) -> dict[str, Any]:
    """One version with its policy text (None for a revocation)."""
    if not raw.isdigit():
        raise ApiError(400, "bad_version", f"a version is a positive integer, not {raw!r}")
    record = cp.storage.get_version(who.app.id, int(raw))
    if record is None:
        raise ApiError(404, "unknown_version", f"app {who.app.name!r} has no version {raw}")
    return {"app": who.app.name, **_summary(record), "policy": record.policy_text}
