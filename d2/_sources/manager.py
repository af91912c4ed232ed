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
from collections.abc import Generator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol

from d2._base.log import logger
from d2._core.model import CompiledPolicy
from d2.exceptions import BundleExpiredError, ConfigurationError, D2Error

if TYPE_CHECKING:
    from pathlib import Path

    from d2._sources.discovery import Discovery

__all__ = [
    "PolicyManager",
    "get_policy_manager",
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


def check_not_expired(policy: CompiledPolicy, *, now: datetime | None = None) -> None:
    """Refuse a policy past its ``expires``; warn when it expires within a week."""
    if policy.expires is None:
        return
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
        self._watcher: _FileWatcher | None = None

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
        try:
            policy = load_policy_file(self.discovery.path)
            self.install(policy)
        except D2Error as exc:
            self.last_reload_error = exc
            logger().error(
                "d2: reload of %s failed, keeping the current policy: %s", self.discovery.path, exc
            )
            return False
        self.last_reload_error = None
        logger().info("d2: reloaded %s (version %s)", self.discovery.path, policy.version)
        return True

    def watch(self) -> None:
        """Reload the policy whenever its file changes (watchfiles when installed, else stat polling)."""
        if self.discovery is None or self._watcher is not None:
            return
        self._watcher = _FileWatcher(self.discovery.path, self.reload)
        self._watcher.start()

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


class _FileWatcher:
    """Call ``on_change`` when ``path`` changes; a daemon thread that stops on request.

    File events (watchfiles) wake it promptly; a stat stamp taken when watching starts, and compared
    on every wake-up, catches changes made before the OS watch was in place or missed by it.
    """

    def __init__(self, path: Path, on_change: Any, *, interval: float = 0.5) -> None:
        self.path = path.resolve()
        self.on_change = on_change
        self.interval = interval
        self.stop_event = threading.Event()
        self.stamp = self._stamp()
        self.thread = threading.Thread(target=self._run, name=f"d2-watch-{path.name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=5)

    def _run(self) -> None:
        try:
            import watchfiles  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            while not self.stop_event.wait(self.interval):
                self._check()
            return
        for _changes in watchfiles.watch(
            self.path.parent,
            stop_event=self.stop_event,
            rust_timeout=int(self.interval * 1000),
            yield_on_timeout=True,
            debounce=50,
            raise_interrupt=False,
        ):
            self._check()

    def _check(self) -> None:
        stamp = self._stamp()
        if stamp != self.stamp:
            self.stamp = stamp
            self.on_change()

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)


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
