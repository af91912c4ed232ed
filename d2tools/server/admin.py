"""Administration shared by ``python -m d2tools.server`` and ``d2 serve``: init, apps, tokens, keys, run.

Each function opens the storage, does one thing and closes it, so it can run beside live servers
(they see the change within their cache lifetime).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .backends import open_storage
from .config import ServerConfig
from .keys import create_signing_key
from .storage import AppRecord, Storage
from .tokens import issue_token

__all__ = [
    "create_app_named",
    "init_storage",
    "issue",
    "parse_duration",
    "register_device_key",
    "rotate_key",
    "run_server",
]

_APP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """Seconds from ``90``, ``30s``, ``15m``, ``12h`` or ``7d``."""
    m = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90, 30s, 15m, 12h, 7d)")
    return int(m.group(1)) * _UNITS[m.group(2) or "s"]


@contextmanager
def opened(db: str, schema: str | None) -> Iterator[Storage]:
    storage = open_storage(db, schema=schema)
    try:
        yield storage
    finally:
        storage.close()


def init_storage(db: str, schema: str | None = None, *, bundle_ttl: int = 7 * 86400) -> str:
    """Create the tables (idempotent) and a first signing key when there is none; return the active kid."""
    with opened(db, schema) as storage:
        storage.init()
        active = [k for k in storage.signing_keys() if k.active]
        if active:
            return active[0].kid
        return create_signing_key(storage, bundle_ttl=bundle_ttl)


def create_app_named(db: str, name: str, schema: str | None = None) -> AppRecord:
    """Create an app; names are short identifiers (letters, digits, ``.``, ``_``, ``-``)."""
    if not _APP_NAME.match(name):
        raise ValueError(f"app name {name!r} must match {_APP_NAME.pattern}")
    with opened(db, schema) as storage:
        if storage.get_app(name) is not None:
            raise ValueError(f"app {name!r} already exists")
        return storage.create_app(name, int(time.time()))


def issue(db: str, kind: str, app: str | None, schema: str | None = None) -> str:
    """Issue a runtime or developer token (printed once; only its hash is stored)."""
    with opened(db, schema) as storage:
        app_id = None
        if app is not None:
            found = storage.get_app(app)
            if found is None:
                raise ValueError(f"no app named {app!r}; create it first")
            app_id = found.id
        token, _ = issue_token(storage, kind, app_id)
        return token


def rotate_key(db: str, schema: str | None = None, *, bundle_ttl: int = 7 * 86400) -> str:
    """Make a new active signing key; the old one stays in the JWKS for ``bundle_ttl`` (+5 min)."""
    with opened(db, schema) as storage:
        return create_signing_key(storage, bundle_ttl=bundle_ttl)


def register_device_key(db: str, public_key: str, schema: str | None = None) -> str:
    """Register a publisher's device key out of band (base64url raw Ed25519 key); return its kid.

    This is the only way a key becomes usable on a server run with ``--require-device-key``; a key
    first registered by use (without the flag) is taken over by this registration.
    """
    from .device import ADMIN_OWNER, parse_public_key
    from .storage import DeviceKeyRecord

    kid, raw = parse_public_key(public_key)
    with opened(db, schema) as storage:
        storage.register_device_key(DeviceKeyRecord(kid, raw, ADMIN_OWNER, int(time.time())))
    return kid


def run_server(config: ServerConfig) -> None:
    """Serve the API with uvicorn until interrupted (SIGINT/SIGTERM)."""
    import uvicorn

    from .app import create_app

    init_storage(config.db, config.schema, bundle_ttl=config.bundle_ttl)
    app = create_app(config)
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=75,
        backlog=4096,
    )
