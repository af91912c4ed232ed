"""Cloud mode: keep a manager's policy in step with signed bundles polled from a control plane or static host.

A daemon thread polls ``GET <bundle_url>`` with ``If-None-Match``; 304 keeps the bundle in hand. A new
bundle is verified (:mod:`d2._sources.bundle`) against trusted keys only (:mod:`d2._sources.trust`:
pinned, vouched for by a trusted key, or the first JWKS answer when nothing is pinned; refetched on an
unknown ``kid`` at a bounded rate), for the configured app and not below the rollback floor, then
compiled, checked against the guarded functions, swapped in atomically and persisted. The persisted
bundle is never trusted on its own word: it waits for trusted keys before it counts.
Any failure keeps the last good bundle; with none, every guarded call is refused (fail closed).
Waits between polls carry jitter, grow exponentially on errors, honour ``Retry-After`` on 429, and
follow a server-suggested interval clamped to ``min_poll_interval``.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from d2._base.log import logger
from d2._sources.bundle import Bundle, UnknownKeyError, compile_bundle, verify_bundle
from d2._sources.cloud_config import CloudConfig, check_floor_storage, cloud_config, env_float
from d2._sources.cloud_http import HttpError, Response, http_get
from d2._sources.cloud_state import SavedBundle, load_saved, save_bundle, source_key
from d2._sources.trust import JwksCache
from d2.exceptions import BundleExpiredError, ConfigurationError, D2Error, InvalidSignatureError

if TYPE_CHECKING:
    from d2._sources.manager import PolicyManager

__all__ = ["BundleSource", "CloudConfig", "cloud_config", "start_bundle_source", "stop_bundle_source"]

MAX_POLL = 3600.0


class BundleSource:
    """Polls one bundle URL for one manager; ``current`` is the bundle whose policy is in force."""

    def __init__(self, manager: PolicyManager, config: CloudConfig) -> None:
        self.manager = manager
        self.config = config
        self.key = source_key(config.bundle_url, config.token)
        self.current: Bundle | None = None
        self.floor = 0  # the highest version ever seen: never go below it, even if that bundle expired
        self.etag: str | None = None
        self.last_error: D2Error | None = None
        self.failures = 0
        self.polls = 0
        self.interval = config.poll_interval
        self.jwks = JwksCache(
            self._fetch_jwks, min_refresh=config.jwks_min_refresh, source=config.jwks_url, pins=config.pins
        )
        self._pending: SavedBundle | None = None  # a persisted bundle waiting for trusted keys
        self._stop = threading.Event()
        self._first = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self, startup_timeout: float) -> None:
        """Restore the persisted bundle, then wait (bounded) for the first poll before returning."""
        check_floor_storage(self.config)
        self._restore()
        self._thread = threading.Thread(target=self._run, name="d2-bundle-poller", daemon=True)
        self._thread.start()
        if not self._first.wait(max(0.0, startup_timeout)):
            logger().warning(
                "d2: no answer from %s within %.1fs; polling on", self.config.bundle_url, startup_timeout
            )
        error = self.last_error
        if self.current is None and isinstance(error, HttpError) and error.status in (401, 403):
            self.stop()
            raise ConfigurationError(str(error))
        if self.current is None:
            logger().error("d2: no valid policy bundle yet; every guarded call is refused until one arrives")

    def stop(self) -> None:
        """Stop polling (the policy in force is left to the manager)."""
        self._stop.set()
        with _SOURCES_LOCK:
            if _SOURCES.get(self.manager.instance_name) is self:
                del _SOURCES[self.manager.instance_name]
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            delay = self.poll_once()
            self._first.set()
            if self._stop.wait(delay):
                return

    # -- one poll --------------------------------------------------------------------------------------
    def poll_once(self) -> float:
        """Ask for a newer bundle once; return how long to wait before the next poll."""
        self.polls += 1
        try:
            self._settle_saved()
            response = self._fetch_bundle()
            delay = self._handle(response)
        except D2Error as exc:
            return self._failed(exc)
        except Exception as exc:  # fail closed: an internal error keeps the last good bundle
            logger().exception("d2: bundle poll failed unexpectedly")
            return self._failed(D2Error(f"{type(exc).__name__}: {exc}"))
        self.failures = 0
        return delay

    def _handle(self, response: Response) -> float:
        suggested = response.header_float("X-D2-Poll-Interval")
        if suggested is not None:
            self.interval = min(MAX_POLL, max(self.config.min_poll_interval, suggested))
        if response.status == 304:
            self.last_error = None
        elif response.status == 200:
            self.accept(response.body, etag=response.headers.get("etag"))
        else:
            raise HttpError.from_response(response, self.config.bundle_url)
        return _jitter(self.interval)

    def _failed(self, exc: D2Error) -> float:
        self.last_error = exc
        self.failures += 1
        backoff = min(
            self.config.max_backoff, self.config.min_poll_interval * 2 ** min(self.failures - 1, 16)
        )
        retry_after = exc.retry_after if isinstance(exc, HttpError) else None
        delay = max(backoff, retry_after or 0.0)
        logger().warning(
            "d2: bundle poll failed (%s); keeping the policy in force, next try in %.1fs", exc, delay
        )
        return _jitter(delay)

    # -- verification and install ----------------------------------------------------------------------
    def accept(self, token: str | bytes, *, etag: str | None = None) -> Bundle:
        """Verify, compile and install ``token``; on any failure raise and keep the bundle in hand."""
        with self._lock:
            bundle = self._verify(token)
            current = self.current
            if current is not None and bundle.version == current.version:
                if (bundle.policy_sha256, bundle.revoked) != (current.policy_sha256, current.revoked):
                    raise InvalidSignatureError(
                        f"{bundle.label} differs from the bundle already held for that version"
                    )
                if bundle.expires_at <= current.expires_at and bundle.kid == current.kid:
                    self.etag = etag or self.etag
                    return current
            self._install(bundle)
            self.current, self.etag, self.last_error = bundle, etag, None
            self.floor = max(self.floor, bundle.version)
            self._persist(bundle, etag)
            return bundle

    def _verify(self, token: str | bytes) -> Bundle:
        if not self.jwks.keys:
            self.jwks.refresh(force=True)
        self._settle_pending()
        try:
            return self._verify_with_keys(token)
        except UnknownKeyError:
            if not self.jwks.refresh():
                raise
            return self._verify_with_keys(token)

    def _verify_with_keys(self, token: str | bytes) -> Bundle:
        return verify_bundle(
            token,
            self.jwks.keys,
            audience=self.config.audience,
            app=self.config.app,
            min_version=self.floor or None,
        )

    def _install(self, bundle: Bundle) -> None:
        if bundle.revoked:
            logger().error("d2: %s revokes the policy; every guarded call is refused", bundle.label)
            self.manager.policy = None
            return
        policy = compile_bundle(bundle)
        self.manager.install(policy)
        logger().info("d2: installed %s (expires %s)", bundle.label, bundle.expires.isoformat())

    def _persist(self, bundle: Bundle, etag: str | None) -> None:
        try:
            save_bundle(
                self.config.state_path, self.key, SavedBundle(bundle.token, self.jwks.document or {}, etag)
            )
        except OSError as exc:
            # The policy is installed and the floor holds in memory; after a restart it would not.
            logger().error(
                "d2: could not persist %s to %s (%s): the rollback floor will not survive a restart",
                bundle.label,
                self.config.state_path,
                exc,
            )

    def _restore(self) -> None:
        """Take the persisted bundle in hand; it counts only once trusted keys (never the file's) verify it.

        With pinned keys it is verified at once (the file may carry key material; only a pin, or an
        endorsement by a pinned key, makes it trusted). Otherwise it waits for keys freshly fetched from
        the configured JWKS URL, so a start without network enforces nothing rather than the file's word.
        """
        self._pending = load_saved(self.config.state_path, self.key)
        if self._pending is None or not self.config.pins:
            return
        try:
            self.jwks.trust.adopt(self._pending.jwks, source=str(self.config.state_path), bootstrap=False)
        except InvalidSignatureError as exc:
            logger().warning("d2: no pinned key in the persisted key set (%s); waiting for the JWKS", exc)
            return
        self._settle_saved()

    def _settle_saved(self) -> None:
        """Verify the pending persisted bundle once trusted keys are in hand (fetching them if needed)."""
        with self._lock:
            self._settle_pending()

    def _settle_pending(self) -> None:
        # Called with the lock held (or before the poller starts). The saved bundle's version must be
        # the floor before any fetched bundle is judged, or an older genuine bundle would slip in.
        if self._pending is None:
            return
        if not self.jwks.keys:
            try:
                self.jwks.refresh()
            except D2Error as exc:
                logger().warning("d2: cannot fetch the JWKS to verify the persisted bundle yet: %s", exc)
                return
        saved, self._pending = self._pending, None
        try:
            # Real clock, expiry aside: an expired bundle still proves the version this process reached.
            bundle = verify_bundle(
                saved.token,
                self.jwks.keys,
                audience=self.config.audience,
                app=self.config.app,
                allow_expired=True,
            )
        except D2Error as exc:
            logger().error("d2: ignoring the persisted bundle in %s: %s", self.config.state_path, exc)
            return
        self.floor = max(self.floor, bundle.version)
        if bundle.expired:
            self.last_error = BundleExpiredError(f"the persisted {bundle.label} has expired")
            logger().warning("d2: the persisted %s has expired; it only sets the version floor", bundle.label)
            return
        if self.current is not None and self.current.version >= bundle.version:
            return
        try:
            self._install(bundle)
        except D2Error as exc:
            logger().error("d2: the persisted %s cannot be installed: %s", bundle.label, exc)
            return
        self.current, self.etag = bundle, saved.etag

    # -- HTTP ----------------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/jose, */*;q=0.1", **self.config.extra}
        if self.config.token:
            headers["Authorization"] = f"Bearer {self.config.token}"
        if self.etag and self.current is not None:
            headers["If-None-Match"] = self.etag
        return headers

    def _fetch_bundle(self) -> Response:
        return http_get(self.config.bundle_url, headers=self._headers(), timeout=self.config.request_timeout)

    def _fetch_jwks(self) -> dict[str, Any]:
        response = http_get(
            self.config.jwks_url, headers={"Accept": "application/json"}, timeout=self.config.request_timeout
        )
        if response.status != 200:
            raise HttpError.from_response(response, self.config.jwks_url)
        document = response.json()
        if not isinstance(document, dict):
            raise InvalidSignatureError(f"{self.config.jwks_url} did not return a JWKS object")
        return document


def _jitter(delay: float) -> float:
    """Spread pollers out: +/-10% so a fleet restarted together does not poll in lockstep."""
    return delay * random.uniform(0.9, 1.1)


_SOURCES: dict[str, BundleSource] = {}
_SOURCES_LOCK = threading.Lock()


def start_bundle_source(
    manager: PolicyManager,
    *,
    bundle_url: str | None = None,
    jwks_url: str | None = None,
    startup_timeout: float | None = None,
    config: CloudConfig | None = None,
    app: str | None = None,
    pin_jwks_thumbprints: str | Iterable[str] | None = None,
    allow_volatile_floor: bool | None = None,
) -> BundleSource:
    """Start (or restart) the bundle source of ``manager`` and wait up to ``startup_timeout`` for a bundle."""
    settings = config or cloud_config(
        bundle_url=bundle_url,
        jwks_url=jwks_url,
        app=app,
        pin_jwks_thumbprints=pin_jwks_thumbprints,
        allow_volatile_floor=allow_volatile_floor,
    )
    stop_bundle_source(manager)
    source = BundleSource(manager, settings)
    timeout = startup_timeout if startup_timeout is not None else env_float("D2_STARTUP_TIMEOUT", 10.0)
    with _SOURCES_LOCK:
        _SOURCES[manager.instance_name] = source
    manager.mode = "cloud"
    manager.source = source
    try:
        source.start(timeout)
    except BaseException:
        with _SOURCES_LOCK:
            _SOURCES.pop(manager.instance_name, None)
        manager.mode = "unconfigured"
        manager.source = None
        raise
    return source


def stop_bundle_source(manager: PolicyManager) -> None:
    """Stop polling for ``manager`` (no-op when it has no bundle source)."""
    with _SOURCES_LOCK:
        source = _SOURCES.pop(manager.instance_name, None)
    if manager.source is source:
        manager.source = None
    if source is not None:
        source.stop()


def bundle_source(instance_name: str = "default") -> BundleSource | None:
    """Return the running bundle source of an instance (for ``d2 status`` and tests)."""
    return _SOURCES.get(instance_name)
