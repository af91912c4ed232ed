"""Cloud-mode settings: where bundles and keys come from, which app they must be for, what anchors trust.

Read once at ``configure_*`` from arguments and ``D2_*`` variables; every missing or unsafe setting is
a :class:`ConfigurationError` that says what to set. Three rules are checked here, before any request:
the app is bound (``D2_APP`` or ``app=``), URLs use https unless they are loopback, and the rollback
floor has somewhere to live (a writable state file) unless the user opts out explicitly.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path
from urllib.parse import urlsplit

from d2._sources.bundle import DEFAULT_AUDIENCE
from d2._sources.cloud_state import default_state_path
from d2._sources.trust import parse_pins
from d2.exceptions import ConfigurationError

__all__ = ["HARD_MIN_POLL", "CloudConfig", "check_floor_storage", "cloud_config", "env_float"]

HARD_MIN_POLL = 1.0
_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True, slots=True)
class CloudConfig:
    """Where bundles and keys come from, how to authenticate, how often to ask, and what to trust."""

    bundle_url: str
    jwks_url: str
    token: str | None = None
    state_path: Path | None = None
    audience: str = DEFAULT_AUDIENCE
    app: str | None = None
    poll_interval: float = 30.0
    min_poll_interval: float = 5.0
    max_backoff: float = 300.0
    request_timeout: float = 10.0
    jwks_min_refresh: float = 30.0
    pins: frozenset[str] = frozenset()
    allow_volatile_floor: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number of seconds, got {raw!r}") from None


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def require_https(url: str, what: str) -> None:
    """Refuse a URL a network attacker could answer for: https, or plain http on loopback only."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and _is_loopback(parts.hostname):
        return
    raise ConfigurationError(
        f"{what} {url!r} must be an https:// URL (plain http only on loopback: 127.0.0.1, ::1, localhost), "
        "so nobody on the network can answer in its place"
    )


def cloud_config(
    *,
    bundle_url: str | None = None,
    jwks_url: str | None = None,
    app: str | None = None,
    pin_jwks_thumbprints: str | Iterable[str] | None = None,
    allow_volatile_floor: bool | None = None,
) -> CloudConfig:
    """Read cloud settings from arguments and ``D2_*`` variables; a missing or unsafe one is a clear error."""
    token = os.environ.get("D2_TOKEN") or None
    api = (os.environ.get("D2_API_URL") or "").rstrip("/")
    url = bundle_url or os.environ.get("D2_BUNDLE_URL") or (f"{api}/v1/policy/bundle" if api else "")
    if not url:
        raise ConfigurationError(
            "D2_TOKEN is set (cloud mode) but D2_API_URL is not: set D2_API_URL to your control plane "
            "(e.g. http://127.0.0.1:8787), or pass bundle_url=, or unset D2_TOKEN to use a local policy file"
        )
    keys = jwks_url or os.environ.get("D2_JWKS_URL") or ""
    if not keys:
        if not api:
            raise ConfigurationError("a bundle URL without D2_API_URL needs D2_JWKS_URL (or jwks_url=)")
        keys = f"{api}/.well-known/jwks.json"
    require_https(url, "the bundle URL")
    require_https(keys, "the JWKS URL")
    bound = app or os.environ.get("D2_APP") or None
    if not bound:
        raise ConfigurationError(
            "cloud mode needs the app its bundles are signed for: set D2_APP=<app name> (or pass app=); "
            "a bundle signed for any other app is refused"
        )
    pins = parse_pins(
        pin_jwks_thumbprints
        if pin_jwks_thumbprints is not None
        else os.environ.get("D2_PIN_JWKS_THUMBPRINTS")
    )
    volatile = (
        allow_volatile_floor
        if allow_volatile_floor is not None
        else (os.environ.get("D2_ALLOW_VOLATILE_FLOOR") or "").strip().lower() in _TRUE
    )
    minimum = max(HARD_MIN_POLL, env_float("D2_MIN_POLL_INTERVAL", 5.0))
    return CloudConfig(
        bundle_url=url,
        jwks_url=keys,
        token=token,
        state_path=default_state_path(),
        audience=os.environ.get("D2_AUDIENCE") or DEFAULT_AUDIENCE,
        app=bound,
        poll_interval=max(minimum, env_float("D2_POLL_INTERVAL", 30.0)),
        min_poll_interval=minimum,
        jwks_min_refresh=max(1.0, env_float("D2_JWKS_MIN_REFRESH", 30.0)),
        pins=pins,
        allow_volatile_floor=volatile,
    )


def check_floor_storage(config: CloudConfig) -> None:
    """Refuse cloud mode when the rollback floor cannot survive a restart, unless the user opted out."""
    if config.allow_volatile_floor:
        return
    path = config.state_path
    if path is None:
        raise ConfigurationError(
            "D2_STATE_PATH=:memory: keeps no rollback floor: after a restart an older, validly signed bundle "
            "would be accepted again. Point D2_STATE_PATH at a writable file, or accept that risk explicitly "
            "with D2_ALLOW_VOLATILE_FLOOR=1 (allow_volatile_floor=True)"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, probe = tempfile.mkstemp(prefix=".bundles-probe-", dir=path.parent)
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(probe)
        if path.exists() and not os.access(path, os.W_OK):
            raise PermissionError(f"{path} is not writable")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot keep the rollback floor in {path} ({exc}): without it, an older validly signed bundle "
            "would be accepted again after a restart. Make the directory writable, point D2_STATE_PATH "
            "elsewhere, or accept that risk explicitly with D2_ALLOW_VOLATILE_FLOOR=1"
        ) from None
