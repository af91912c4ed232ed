"""Policy managers: hold the current compiled policy of an instance and swap it atomically.

Loading (``d2._config`` picks the source) raises at once when a policy is missing, invalid or expired,
instead of logging and denying later. A reload (by hand or by the
file watcher) that fails keeps the policy in force: a typo in an edited file never opens or closes
the gate by accident.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Protocol

from d2._base.log import logger
from d2.exceptions import BundleExpiredError, ConfigurationError, D2Error

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from d2._core.model import CompiledPolicy
    from d2._sources.discovery import Discovery
    from d2._sources.watcher import FileWatcher, WatchStatus

__all__ = [
    "PolicyManager",
    "get_policy_manager",
    "load_policy_bytes",
    "load_policy_file",
    "shutdown_all_rbac",
    "shutdown_rbac",
]


class _Verifiable(Protocol):
    def verify(self, policy: CompiledPolicy) -> list[str]: ...


class _Stoppable(Protocol):
    def stop(self) -> None: ...


def load_policy_file(path: str | os.PathLike[str], *, now: datetime | None = None) -> CompiledPolicy:
    """Parse, validate and compile a policy file; raise with every diagnostic, or if it has expired."""
    from d2._lang.compiler import compile_policy
    from d2._lang.source import parse_policy_file

    doc = parse_policy_file(path)
    result = compile_policy(doc)
    if result.policy is None:
        raise ConfigurationError(f"invalid policy {path}", diagnostics=result.errors)
    policy = result.policy
    check_not_expired(policy, now=now)
    if not _silent():
        for warning in result.warnings:
            logger().warning("%s", warning.render())
    return policy


def load_policy_bytes(
    raw: bytes | None, path: str | os.PathLike[str], *, now: datetime | None = None
) -> CompiledPolicy:
    """Like :func:`load_policy_file`, from bytes already read (the watcher's stable read of ``path``)."""
    from d2._lang.compiler import compile_policy
    from d2._lang.source import max_bytes_from_env, parse_policy_text
    from d2.exceptions import PolicyTooLargeError

    if raw is None:
        raise ConfigurationError(f"cannot read policy file {path}: it is missing or unreadable")
    limit = max_bytes_from_env()
    if len(raw) > limit:
        raise PolicyTooLargeError(
            f"{path}: policy file is over the {limit}-byte limit; "
            "raise D2_MAX_POLICY_BYTES if this is intended"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"invalid policy file {path}: not valid UTF-8 (byte {exc.start})") from exc
    result = compile_policy(parse_policy_text(text, str(path)))
    if result.policy is None:
        raise ConfigurationError(f"invalid policy {path}", diagnostics=result.errors)
    check_not_expired(result.policy, now=now)
    return result.policy


def check_not_expired(policy: CompiledPolicy, *, now: datetime | None = None) -> None:
    """Refuse a policy past its ``expires``; warn when it expires within a week."""
    if policy.expires is None:
        return
    from datetime import datetime, timedelta, timezone  # a policy with an expiry has imported it

    current = now or datetime.now(timezone.utc)
    if policy.expires <= current:
        raise BundleExpiredError(
            f"policy {policy.source} expired at {policy.expires.isoformat()}; "
            "publish a fresh one or move metadata.expires forward"
        )
    if policy.expires - current < timedelta(days=7) and not _silent():
        logger().warning(
            "d2 policy %s expires at %s (within 7 days)", policy.source, policy.expires.isoformat()
        )


def _silent() -> bool:
    return os.environ.get("D2_SILENT", "").lower() in ("1", "true", "yes", "on")


class PolicyManager:
    """The current policy of one instance; guards read ``policy`` on every call."""

    def __init__(self, instance_name: str) -> None:
        self.instance_name = instance_name
        self.policy: CompiledPolicy | None = None
        self.discovery: Discovery | None = None
        self.last_reload_error: D2Error | None = None
        self.mode = "unconfigured"
        # The source that feeds this manager (a bundle poller); the manager only knows how to stop it,
        # so it never imports cloud code.
        self.source: _Stoppable | None = None
        self._guards: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._watcher: FileWatcher | None = None

    def __repr__(self) -> str:
        version = self.policy.version if self.policy else None
        return f"<PolicyManager {self.instance_name!r} mode={self.mode} version={version}>"

    def register_guard(self, guard: _Verifiable) -> None:
        """Remember a guard so every new policy is checked against its function's signature."""
        self._guards.add(guard)
        if self.policy is not None:
            problems = guard.verify(self.policy)
            if problems:
                raise ConfigurationError(
                    "policy does not fit a guarded function:\n  " + "\n  ".join(problems)
                )

    def install(self, policy: CompiledPolicy) -> None:
        """Swap in ``policy`` after checking it against every registered guard."""
        problems = [p for guard in list(self._guards) for p in guard.verify(policy)]
        if problems:
            raise ConfigurationError(
                f"policy {policy.source} does not fit the guarded functions:\n  " + "\n  ".join(problems)
            )
        with self._lock:
            self.policy = policy

    def load_local(self, path: str | os.PathLike[str] | None = None) -> CompiledPolicy:
        """Discover and load the local policy file, then make it current."""
        from d2._sources.discovery import discover_policy

        discovery = discover_policy(path)
        policy = load_policy_file(discovery.path)
        self.install(policy)
        self.discovery = discovery
        self.mode = "local"
        return policy

    def reload(self) -> bool:
        """Reload the local file; on any problem keep the current policy and record the error."""
        if self.discovery is None:
            return False
        return self._reload(lambda path: load_policy_file(path))

    def _reload(self, load: Callable[[Path], CompiledPolicy]) -> bool:
        path = self.discovery.path if self.discovery is not None else None
        if path is None:
            return False
        try:
            policy = load(path)
            self.install(policy)
        except Exception as exc:  # any failure keeps the policy in force, RecursionError too
            error = (
                exc
                if isinstance(exc, D2Error)
                else ConfigurationError(
                    f"reload of {path} failed ({type(exc).__name__}: {exc}); "
                    "the current policy stays in force"
                )
            )
            self.last_reload_error = error
            logger().error("d2: reload of %s failed, keeping the current policy: %s", path, error)
            return False
        self.last_reload_error = None
        logger().info("d2: reloaded %s (version %s)", path, policy.version)
        return True

    def _reload_stable(self, raw: bytes | None) -> str | None:
        """The watcher's callback: install the bytes it read twice; return the error text, if any."""
        if self._reload(lambda path: load_policy_bytes(raw, path)):
            return None
        return str(self.last_reload_error)

    def watch(self, *, delay: float | None = None) -> None:
        """Reload the policy whenever its file changes and stays the same for ``delay`` seconds.

        ``delay`` defaults to ``D2_RELOAD_DELAY`` (0.5 s). Watches with watchfiles when installed,
        else by stat polling; see :meth:`watch_status` for the watcher's health.
        """
        if self.discovery is None or self._watcher is not None:
            return
        from d2._lang.source import max_bytes_from_env
        from d2._sources.watcher import FileWatcher

        self._watcher = FileWatcher(
            self.discovery.path, self._reload_stable, delay=delay, read_limit=max_bytes_from_env()
        )
        self._watcher.start()

    def watch_status(self) -> WatchStatus | None:
        """The hot-reload watcher's health (running, reloads, failures, last error), or None."""
        return self._watcher.status() if self._watcher is not None else None

    def shutdown(self) -> None:
        """Stop watching or polling and drop the policy: later calls are refused with MissingPolicyError."""
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        source, self.source = self.source, None
        if source is not None:
            source.stop()
        with self._lock:
            self.policy = None
        self.mode = "unconfigured"


_MANAGERS: dict[str, PolicyManager] = {}
_MANAGERS_LOCK = threading.Lock()


def get_policy_manager(instance_name: str = "default") -> PolicyManager:
    """Return the manager of ``instance_name`` (created empty on first use)."""
    manager = _MANAGERS.get(instance_name)
    if manager is None:
        with _MANAGERS_LOCK:
            manager = _MANAGERS.setdefault(instance_name, PolicyManager(instance_name))
    return manager


class _Done:
    """The result of a shutdown: already done, and awaitable so ``await shutdown_rbac()`` works too."""

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield

    def __repr__(self) -> str:
        return "<d2 shutdown complete>"


def shutdown_rbac(instance_name: str = "default") -> _Done:
    """Stop one instance's background work and unload its policy; call plainly or await."""
    manager = _MANAGERS.get(instance_name)
    if manager is not None:
        manager.shutdown()
    return _Done()


def shutdown_all_rbac() -> _Done:
    """Shut down every instance; call plainly or await."""
    for manager in list(_MANAGERS.values()):
        manager.shutdown()
    return _Done()
