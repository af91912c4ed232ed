"""The cyclic collector is paused while a policy is built, and always restored afterwards."""

from __future__ import annotations

import gc
import threading

import pytest

import d2
from d2._base.gcpause import paused_gc


def test_pause_nests_and_restores() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_restored_after_an_error() -> None:
    with pytest.raises(RuntimeError), paused_gc():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_app_stays_off() -> None:
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_pauses_in_threads_restore_once_all_end() -> None:
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with paused_gc():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    thread.start()
    assert inside.wait(5)
    with paused_gc():
        pass
    assert not gc.isenabled()  # the other thread's pause is still running
    release.set()
    thread.join(5)
    assert gc.isenabled()


def test_loading_a_policy_leaves_the_collector_on(write_policy) -> None:  # type: ignore[no-untyped-def]
    d2.load_policy_file(write_policy("policies:\n  - role: r\n    permissions: [t]\n"))
    with pytest.raises(d2.ConfigurationError):
        d2.load_policy_file(write_policy("policies: [\n"))
    assert gc.isenabled()
