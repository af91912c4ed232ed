"""The ``--watch`` CLI test finishes when pytest itself runs with SIGINT ignored (background jobs, CI).

Children inherit an ignored SIGINT, so a test that stops its child with SIGINT alone waited for ever.
This runs that test in a pytest started exactly so, in its own session, and kills the whole group if
it does not finish in time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from .conftest import REPO

TARGET = "tests/toolchain/testing/test_watch.py::test_cli_watch_reruns_until_interrupted"


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_watch_cli_test_ends_when_sigint_is_ignored() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", TARGET],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_ignore_sigint,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError("the watch test hung with SIGINT ignored") from None
    assert proc.returncode == 0, out
    assert "1 passed" in out
