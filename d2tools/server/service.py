"""The control plane's logic, free of HTTP: authenticate, serve bundles, draft, publish, revoke.

Handlers in :mod:`.app` call these synchronous methods (in a thread pool unless a cache answers).
Caches live ``cache_ttl`` seconds (default 1 s), so a replica sees another replica's publish, token
revocation or key rotation within that time, with no shared memory between them.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from d2._toolkit import sign_bundle

from .config import ApiError, ServerConfig
from .keys import KeyRing
from .storage import AppRecord, Storage, TokenRecord, VersionRecord
from .tokens import hash_token

__all__ = ["ControlPlane", "Principal", "Served", "etag_version", "make_etag"]

# At most 18 digits: every version fits the 64-bit column, and a huge number is simply not our ETag.
_ETAG = re.compile(r'^(?:W/)?"?v(\d{1,18})(?:\.[0-9a-f]{1,64})?"?$')
_CACHE_LIMIT = 10_000
NEED_RUNTIME = "a runtime token (d2_rt_...) or a developer token for this app"
NEED_DEVELOPER = "a developer token (d2_dev_...) with the policy:write scope"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking (their token) and for which app."""

    token: TokenRecord
    app: AppRecord


@dataclass(frozen=True, slots=True)
class Served:
    """The bundle an app serves right now."""

    version: int
    etag: str
    token: str
    kid: str
    expires_at: int
    kind: str


def make_etag(version: int, token: str) -> str:
    """A strong ETag naming the version and the exact signed bytes: ``"v7.1a2b..."``."""
    return f'"v{version}.{hashlib.sha256(token.encode("ascii")).hexdigest()[:16]}"'


def etag_version(etag: str) -> int | None:
    """The version an ETag names (``If-Match`` compares versions, so a renewed bundle still matches)."""
    m = _ETAG.match(etag.strip())
    return int(m.group(1)) if m else None


class _TtlCache:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.data: dict[Any, tuple[Any, float]] = {}

    def get(self, key: Any) -> tuple[bool, Any]:
        hit = self.data.get(key)
        if hit is None or time.monotonic() - hit[1] >= self.ttl:
            return False, None
        return True, hit[0]

    def put(self, key: Any, value: Any) -> None:
        if len(self.data) >= _CACHE_LIMIT:
            self.data.clear()
        self.data[key] = (value, time.monotonic())

    def drop(self, key: Any) -> None:
        self.data.pop(key, None)


class ControlPlane:
    """One process's view of the control plane over shared storage."""

    def __init__(self, storage: Storage, config: ServerConfig) -> None:
        self.storage = storage
        self.config = config
        self.keys = KeyRing(storage, ttl=config.cache_ttl)
        self.tokens = _TtlCache(config.cache_ttl)
        self.apps = _TtlCache(config.cache_ttl)
        self.bundles = _TtlCache(config.cache_ttl)
        self._resign_lock = threading.Lock()

    # -- authentication --------------------------------------------------------------------------------
    @staticmethod
    def bearer(header: str | None, need: str) -> str:
        if not header or not header.lower().startswith("bearer "):
            raise ApiError(401, "missing_token", f"send 'Authorization: Bearer <token>'; this needs {need}")
        return header[7:].strip()

    def cached_token(self, token: str) -> tuple[bool, TokenRecord | None]:
        return self.tokens.get(hash_token(token))

    def load_token(self, token: str) -> TokenRecord | None:
        digest = hash_token(token)
        record = self.storage.find_token(digest)
        self.tokens.put(digest, record)
        return record

    def check_token(self, record: TokenRecord | None, scope: str, need: str) -> TokenRecord:
        if record is None or record.revoked_at is not None:
            raise ApiError(401, "invalid_token", f"the token is unknown or revoked; this needs {need}")
        if scope not in record.scopes:
            raise ApiError(
                403, "insufficient_scope", f"a {record.kind} token cannot do this; it needs {need}"
            )
        return record

    def resolve_app(self, token: TokenRecord, name: str | None) -> AppRecord:
        """The app a request is about: the token's own app, or ``?app=`` for an all-apps developer token."""
        if token.app_id is not None:
            app = self._app_by_id(token.app_id)
            if app is None or (name and name != app.name):
                raise ApiError(403, "token_app_mismatch", f"this token belongs to another app than {name!r}")
            return app
        if not name:
            raise ApiError(
                400, "app_required", "this token spans every app: name one with ?app=NAME or X-D2-App"
            )
        found = self.storage.get_app(name)
        if found is None:
            raise ApiError(404, "unknown_app", f"no app named {name!r}; create it with `d2 serve create-app`")
        return found

    def _app_by_id(self, app_id: int) -> AppRecord | None:
        hit, app = self.apps.get(app_id)
        if not hit:
            app = self.storage.get_app_by_id(app_id)
            self.apps.put(app_id, app)
        return app  # type: ignore[no-any-return]

    # -- serving bundles -------------------------------------------------------------------------------
    def cached_bundle(self, app_id: int) -> tuple[bool, Served | None]:
        return self.bundles.get(app_id)

    def current_bundle(self, app_id: int) -> Served | None:
        """The head bundle of an app, re-signed first when its key was rotated or half its life is gone."""
        head = self.storage.head(app_id)
        if head is not None and self._needs_resign(head):
            head = self._resign(head)
        served = _served(head) if head is not None else None
        self.bundles.put(app_id, served)
        return served

    def _needs_resign(self, head: VersionRecord) -> bool:
        kid, _ = self.keys.active()
        remaining = head.expires_at - time.time()
        return head.kid != kid or remaining < self.config.bundle_ttl / 2

    def _resign(self, head: VersionRecord) -> VersionRecord:
        with self._resign_lock:
            app = self.storage.get_app_by_id(head.app_id)
            assert app is not None
            token, kid, expires = self.sign(app.name, head.version, head.policy_text, head.policy_format)
            new = _replace_token(head, token, kid, expires)
            if self.storage.resign(head.app_id, head.version, head.etag, new):
                return new
            return self.storage.get_version(head.app_id, head.version) or head

    def sign(self, app: str, version: int, text: str | None, fmt: str) -> tuple[str, str, int]:
        """Sign a bundle with the active key; return (token, kid, expires_at)."""
        kid, key = self.keys.active()
        now = int(time.time())
        token = sign_bundle(
            text,
            app=app,
            version=version,
            private_key=key,
            kid=kid,
            ttl=self.config.bundle_ttl,
            audience=self.config.audience,
            policy_format=fmt,
            issuer=self.config.issuer,
            now=now,
        )
        return token, kid, now + self.config.bundle_ttl

    def new_version(
        self, principal: Principal, *, version: int, text: str | None, fmt: str, device_kid: str | None
    ) -> VersionRecord:
        token, kid, expires = self.sign(principal.app.name, version, text, fmt)
        return VersionRecord(
            app_id=principal.app.id,
            version=version,
            kind="revoke" if text is None else "publish",
            policy_text=text,
            policy_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest() if text is not None else None,
            policy_format=fmt,
            created_at=int(time.time()),
            created_by=principal.token.id,
            device_kid=device_kid,
            token=token,
            etag=make_etag(version, token),
            kid=kid,
            expires_at=expires,
        )

    def commit(self, record: VersionRecord, expected_head: int) -> None:
        """Append ``record`` if the head is still ``expected_head``; else 412 with the current ETag."""
        if not self.storage.append_version(record, expected_head=expected_head):
            head = self.storage.head(record.app_id)
            current = head.etag if head is not None else "none"
            raise ApiError(
                412,
                "precondition_failed",
                f"the app changed since {f'v{expected_head}' if expected_head else 'nothing was published'}; "
                f"current is {current}: pull, merge and publish again",
                headers={"ETag": current} if head is not None else {},
            )
        self.bundles.drop(record.app_id)
        self.apps.drop(record.app_id)


def _served(head: VersionRecord) -> Served:
    return Served(head.version, head.etag, head.token, head.kid, head.expires_at, head.kind)


def _replace_token(head: VersionRecord, token: str, kid: str, expires: int) -> VersionRecord:
    from dataclasses import replace

    return replace(head, token=token, kid=kid, expires_at=expires, etag=make_etag(head.version, token))
