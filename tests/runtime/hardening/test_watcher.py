"""The hot-reload watcher survives anything, follows ConfigMap swaps, and installs only stable files.

Issue 11 items 8, 9 and 10. These tests run the real watcher thread on real files.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import d2

V1 = "policies:\n  - role: r\n    permissions: [tool.a]\n"
V2 = "policies:\n  - role: r\n    permissions: [tool.a, tool.b]\n"
V3 = "policies:\n  - role: r\n    permissions: [tool.a, tool.b, tool.c]\n"


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def _failures(manager: d2.PolicyManager) -> int:
    status = manager.watch_status()
    return status.failures if status is not None else 0


def _tools(manager: d2.PolicyManager) -> frozenset[str]:
    policy = manager.policy
    return policy.known_tools if policy is not None else frozenset()


@pytest.fixture
def fast_reload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("D2_RELOAD_DELAY", "0.2")


# -- item 8 -------------------------------------------------------------------------------------


def test_watcher_survives_a_recursion_error_and_reports_it(tmp_path: Path, fast_reload: None) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(V1)
    manager = d2.configure_rbac_sync(path, hot_reload=True)
    first = manager.policy
    path.write_text("policies: " + "[" * 1000 + "]" * 1000 + "\n")
    assert wait_for(lambda: _failures(manager) >= 1), "the watcher never reported the failure"
    assert manager.last_reload_error is not None
    assert manager.policy is first
    status = manager.watch_status()
    assert status is not None and status.running and status.failures >= 1
    assert status.last_error is not None
    path.write_text(V2)
    assert wait_for(lambda: "tool.b" in _tools(manager)), "the watcher died after the failure"
    status = manager.watch_status()
    assert status is not None and status.running and status.reloads >= 1


def test_watch_status_is_none_without_hot_reload(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(V1)
    manager = d2.configure_rbac_sync(path)
    assert manager.watch_status() is None


# -- item 9 -------------------------------------------------------------------------------------


def _configmap(root: Path, text: str, stamp: int) -> None:
    """Publish ``text`` the way the kubelet updates a ConfigMap volume: a new dir, then swap ``..data``."""
    target = root / f"..2026_{stamp:04d}"
    target.mkdir()
    (target / "policy.yaml").write_text(text)
    tmp_link = root / "..data_tmp"
    tmp_link.symlink_to(target.name)
    old = os.readlink(root / "..data") if (root / "..data").is_symlink() else None
    os.replace(tmp_link, root / "..data")
    if not (root / "policy.yaml").is_symlink():
        (root / "policy.yaml").symlink_to("..data/policy.yaml")
    if old is not None:
        for child in (root / old).iterdir():
            child.unlink()
        (root / old).rmdir()


def test_configmap_symlink_swaps_are_followed_every_time(tmp_path: Path, fast_reload: None) -> None:
    root = tmp_path / "config"
    root.mkdir()
    _configmap(root, V1, 1)
    manager = d2.configure_rbac_sync(root / "policy.yaml", hot_reload=True)
    assert "tool.b" not in _tools(manager)
    _configmap(root, V2, 2)
    assert wait_for(lambda: "tool.b" in _tools(manager)), "first swap missed"
    _configmap(root, V3, 3)
    assert wait_for(lambda: "tool.c" in _tools(manager)), "second swap missed: the watcher stopped following"
    _configmap(root, V1, 4)
    assert wait_for(lambda: "tool.c" not in _tools(manager)), "third swap missed"


# -- item 10 ------------------------------------------------------------------------------------

COMPLETE = """
policies:
  - role: r
    permissions:
      - tool: pay.send
        conditions:
          input:
            amount: {max: 10}
"""
# A valid prefix of COMPLETE: the grant without its conditions.
PREFIX = COMPLETE[: COMPLETE.index("        conditions:")]


@pytest.fixture
def watcher_on(tmp_path: Path, fast_reload: None) -> Iterator[tuple[Path, d2.PolicyManager]]:
    path = tmp_path / "policy.yaml"
    path.write_text(COMPLETE)
    manager = d2.configure_rbac_sync(path, hot_reload=True)
    yield path, manager


def _unconditional(manager: d2.PolicyManager) -> bool:
    policy = manager.policy
    if policy is None:
        return False
    grants = policy.grants.get("pay.send", {}).get("r", ())
    return any(g.input is None for g in grants)


def test_a_torn_write_is_never_installed(watcher_on: tuple[Path, d2.PolicyManager]) -> None:
    path, manager = watcher_on
    seen_open: list[bool] = []
    stop = threading.Event()

    def observe() -> None:
        while not stop.is_set():
            seen_open.append(_unconditional(manager))
            time.sleep(0.005)

    observer = threading.Thread(target=observe)
    observer.start()
    try:
        for i in range(4):
            with path.open("w") as fh:  # a writer that pauses mid-write, shorter than the reload delay
                fh.write(PREFIX)
                fh.flush()
                time.sleep(0.12)
                fh.write(COMPLETE[len(PREFIX) :] + f"# edit {i}\n")
            time.sleep(0.3)
        assert wait_for(lambda: manager.watch_status() is not None and manager.watch_status().reloads >= 1)  # type: ignore[union-attr]
    finally:
        stop.set()
        observer.join()
    assert not any(seen_open), "a half-written policy file was installed"


def test_an_atomic_rename_is_installed_after_the_delay(watcher_on: tuple[Path, d2.PolicyManager]) -> None:
    path, manager = watcher_on
    staged = path.with_name(".policy.yaml.tmp")
    staged.write_text(V2)
    os.replace(staged, path)
    assert wait_for(lambda: "tool.b" in _tools(manager))


def test_diagnose_reports_a_failing_watcher(tmp_path: Path, fast_reload: None) -> None:
    from d2tools.inspect import diagnose

    path = tmp_path / "policy.yaml"
    path.write_text(V1)
    manager = d2.configure_rbac_sync(path, hot_reload=True)
    assert diagnose(path).ok
    path.write_text("policies: " + "[" * 1000 + "]" * 1000 + "\n")
    assert wait_for(lambda: _failures(manager) >= 1)
    report = diagnose(path)
    assert any("hot reload" in p and "failed" in p for p in report.problems), report.problems
