"""The watcher's settings and health report, pinned where mutation testing of ``_sources/watcher.py`` found gaps.

``D2_RELOAD_DELAY`` accepts 0 to 60 seconds inclusive; a watcher starts with zero counts, reports
itself not running before it starts and after it stops, names the last failure by its message, runs
as a daemon thread (it must never keep a process alive), and its status cannot be edited.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from d2._sources.watcher import DEFAULT_DELAY, FileWatcher, reload_delay
from d2.exceptions import ConfigurationError


def swap(path: Path, text: str) -> None:
    """Replace the file's content in one step, as the docs ask writers to: a watcher polling with no
    reload delay must never see it half-written (an empty file would count as a reload)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize(("raw", "seconds"), [("0", 0.0), ("60", 60.0), ("0.25", 0.25), (" 5 ", 5.0)])
def test_reload_delay_accepts_zero_to_sixty_seconds(
    monkeypatch: pytest.MonkeyPatch, raw: str, seconds: float
) -> None:
    monkeypatch.setenv("D2_RELOAD_DELAY", raw)
    assert reload_delay() == seconds


@pytest.mark.parametrize("raw", ["-0.01", "60.001", "61", "soon", "nan"])
def test_reload_delay_refuses_anything_else(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("D2_RELOAD_DELAY", raw)
    with pytest.raises(ConfigurationError, match="D2_RELOAD_DELAY"):
        reload_delay()


def test_reload_delay_defaults_when_unset_or_blank(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("D2_RELOAD_DELAY", raising=False)
    assert reload_delay() == DEFAULT_DELAY
    monkeypatch.setenv("D2_RELOAD_DELAY", "  ")
    assert reload_delay() == DEFAULT_DELAY


def test_a_new_watcher_has_zero_counts_and_is_not_running(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("x", encoding="utf-8")
    watcher = FileWatcher(path, lambda raw: None, interval=0.05, delay=0.0)
    status = watcher.status()
    assert (status.checks, status.reloads, status.failures) == (0, 0, 0)
    assert not status.running and not status.healthy
    assert status.last_error is None and status.last_error_at is None and status.last_reload_at is None
    assert watcher.thread.daemon  # a watcher never keeps the process alive
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.running = True  # type: ignore[misc]


def test_status_names_the_last_failure_and_the_reload_that_follows(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("v1", encoding="utf-8")
    answers = {b"bad": "the policy is invalid"}
    watcher = FileWatcher(path, lambda raw: answers.get(raw or b""), interval=0.05, delay=0.0)
    watcher.start()
    try:
        assert wait_for(lambda: watcher.status().running)
        time.sleep(0.05)
        swap(path, "bad")
        assert wait_for(lambda: watcher.status().failures == 1)
        status = watcher.status()
        assert status.last_error == "the policy is invalid"
        assert isinstance(status.last_error_at, float) and status.reloads == 0
        assert not status.healthy
        swap(path, "good")
        assert wait_for(lambda: watcher.status().reloads == 1)
        status = watcher.status()
        assert status.healthy and status.failures == 1
        assert status.last_reload_at is not None and status.last_error_at is not None
        assert status.last_reload_at >= status.last_error_at
    finally:
        watcher.stop()
    assert not watcher.status().running


def test_a_broken_event_source_falls_back_to_polling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    watchfiles = pytest.importorskip("watchfiles")
    calls: list[int] = []

    def broken(*args: object, **kwargs: object) -> object:
        calls.append(1)
        raise RuntimeError("no inotify watches left")

    monkeypatch.setattr(watchfiles, "watch", broken)
    path = tmp_path / "policy.yaml"
    path.write_text("v1", encoding="utf-8")
    seen: list[bytes | None] = []
    watcher = FileWatcher(path, lambda raw: seen.append(raw), interval=0.05, delay=0.0)
    watcher.start()
    try:
        assert wait_for(lambda: watcher.status().failures == 1)
        swap(path, "v2, longer")
        assert wait_for(lambda: seen == [b"v2, longer"])
        status = watcher.status()
        assert status.running and status.failures == 1 and status.reloads == 1
        assert status.last_error == "RuntimeError: no inotify watches left"
        assert calls == [1]  # tried once, then stat polling
    finally:
        watcher.stop()


def test_each_look_counts_one_check_and_an_unchanged_file_is_not_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("v1", encoding="utf-8")
    seen: list[bytes | None] = []
    watcher = FileWatcher(path, lambda raw: seen.append(raw), interval=0.05, delay=0.0)
    watcher._check()
    watcher._check()
    assert watcher.status().checks == 2 and seen == []
    path.write_text("v2 changed", encoding="utf-8")
    watcher._check()
    status = watcher.status()
    assert seen == [b"v2 changed"] and (status.checks, status.reloads, status.failures) == (3, 1, 0)


def test_without_watchfiles_the_watcher_polls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "watchfiles", None)  # ``import watchfiles`` raises ImportError
    path = tmp_path / "policy.yaml"
    path.write_text("v1", encoding="utf-8")
    seen: list[bytes | None] = []
    watcher = FileWatcher(path, lambda raw: seen.append(raw), interval=0.05, delay=0.0)
    watcher.start()
    try:
        time.sleep(0.1)
        swap(path, "v2, polled")
        assert wait_for(lambda: seen == [b"v2, polled"])
        status = watcher.status()
        assert status.running and status.failures == 0
    finally:
        watcher.stop()
