"""``d2 diagnose`` in cloud mode: check the bundle the runtime would poll, not a local file it ignores.

With ``D2_TOKEN`` set the runtime reads its policy from the control plane: the settings come from the
runtime's own :func:`cloud_config` (so the URLs are the ones it would use), the bundle is fetched with
the token, verified against the key set exactly as the SDK verifies it, and its policy is linted like a
local file. Every step that fails is a problem with the fix, and the run exits 1.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ._diagnose import Diagnosis, _measure

__all__ = ["diagnose_cloud"]


def diagnose_cloud(*, now: datetime | None = None) -> Diagnosis:
    """Diagnose the cloud source the runtime would use."""
    from d2._toolkit import cloud_config
    from d2.exceptions import D2Error

    notes = ("D2_TOKEN is set: the runtime loads the control plane's bundle, not a local policy file",)
    try:
        config = cloud_config()
    except D2Error as exc:
        return Diagnosis(mode="cloud", problems=(str(exc),), notes=notes)
    cloud: dict[str, Any] = {
        "bundle_url": config.bundle_url,
        "jwks_url": config.jwks_url,
        "audience": config.audience,
        "app": config.app,
        "saved_state": _saved(config.state_path),
    }
    try:
        bundle = _fetch_and_verify(config)
    except D2Error as exc:
        return Diagnosis(mode="cloud", cloud=cloud, problems=(str(exc),), notes=notes)
    cloud.update(
        app=bundle.app,
        version=bundle.version,
        kid=bundle.kid,
        revoked=bundle.revoked,
        bundle_expires=bundle.expires.isoformat(),
    )
    if bundle.revoked or bundle.policy_text is None:
        problem = f"{bundle.app} v{bundle.version} is revoked: the runtime refuses every guarded call"
        return Diagnosis(mode="cloud", path=bundle.label, how="D2_TOKEN", cloud=cloud, problems=(problem,))
    return _lint_bundle(bundle, cloud, notes, now)


def _fetch_and_verify(config: Any) -> Any:
    from d2._toolkit import HttpError, http_get, parse_jwks, verify_bundle

    headers = {"Accept": "application/jose"}
    if config.token:
        headers["Authorization"] = f"Bearer {config.token}"
    response = http_get(config.bundle_url, headers=headers, timeout=config.request_timeout)
    if response.status != 200:
        raise HttpError.from_response(response, config.bundle_url)
    keys = http_get(config.jwks_url, headers={"Accept": "application/json"}, timeout=config.request_timeout)
    if keys.status != 200:
        raise HttpError.from_response(keys, config.jwks_url)
    return verify_bundle(response.body, parse_jwks(keys.json()), audience=config.audience, app=config.app)


def _lint_bundle(
    bundle: Any, cloud: dict[str, Any], notes: tuple[str, ...], now: datetime | None
) -> Diagnosis:
    import tempfile

    suffix = ".json" if bundle.policy_format == "json" else ".yaml"
    with tempfile.TemporaryDirectory(prefix="d2-diagnose-") as tmp:
        copy = Path(tmp) / f"bundle{suffix}"
        copy.write_text(bundle.policy_text, encoding="utf-8")
        measured = _measure(copy, "D2_TOKEN", now or datetime.now(timezone.utc), notes)
    from dataclasses import replace

    label = bundle.label
    diagnostics = tuple(replace(d, file=label) for d in measured.diagnostics)
    problems = tuple(p.replace(str(copy), label) for p in measured.problems)
    result: Diagnosis = replace(
        measured, mode="cloud", path=label, cloud=cloud, diagnostics=diagnostics, problems=problems
    )
    return result


def _saved(path: Path | None) -> str | None:
    if path is None:
        return None
    return f"{path} ({'present' if path.exists() else 'none yet'})"
