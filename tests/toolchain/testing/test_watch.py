"""``--watch``: a change to the policy or a scenario re-runs the suite; other files do not."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

from d2tools.testing import RunResult, run
from d2tools.testing._watch import watch_paths, watch_runs

from .conftest import RBAC_POLICY, Writer


def _wait(results: queue.Queue[RunResult], timeout: float = 10.0) -> RunResult:
    return results.get(timeout=timeout)


def test_watch_reruns_on_policy_and_scenario_changes(project: Writer, tmp_path: Path) -> None:
    policy = project("policy/policy.yaml", RBAC_POLICY)
    scenario = project(
        "scenarios/a.d2test.yaml",
        "policy: ../policy/policy.yaml\ncases: [{name: v, roles: [viewer], steps: [{call: billing.read}]}]\n",
    )
    results: queue.Queue[RunResult] = queue.Queue()
    stop = threading.Event()

    def where(_result: RunResult) -> list[Path]:
        return watch_paths([tmp_path / "scenarios"], [policy])

    worker = threading.Thread(
        target=watch_runs,
        args=(lambda: run([tmp_path / "scenarios"]), where, results.put),
        kwargs={"stop": stop, "debounce_ms": 50},
        daemon=True,
    )
    worker.start()
    try:
        assert _wait(results).summary() == "1 passed, 0 failed"
        time.sleep(0.3)  # let the watcher start
        (tmp_path / "policy" / "notes.txt").write_text("not relevant\n")
        time.sleep(0.5)
        assert results.empty()
        policy.write_text(RBAC_POLICY.replace("- billing.read", "- billing.other"))
        assert _wait(results).summary() == "0 passed, 1 failed"
        time.sleep(0.3)
        scenario.write_text(scenario.read_text().replace("billing.read", "billing.other"))
        assert _wait(results).summary() == "1 passed, 0 failed"
        assert results.empty()
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()


def test_watch_paths_are_deduplicated_directories(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "p.yaml").write_text("x")
    (tmp_path / "a" / "b" / "s.d2test.yaml").write_text("x")
    roots = watch_paths([tmp_path / "a" / "b" / "s.d2test.yaml", tmp_path / "a"], [tmp_path / "a" / "p.yaml"])
    assert roots == [(tmp_path / "a").resolve()]


def test_cli_watch_reruns_until_interrupted(project: Writer, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    from .conftest import REPO

    policy = project("policy.yaml", RBAC_POLICY)
    project("a.d2test.yaml", "cases: [{name: v, roles: [viewer], steps: [{call: billing.read}]}]\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", "PYTHONUNBUFFERED": "1", "D2_SILENT": "1"}
    # A terminal's foreground job takes Ctrl-C even when this pytest was started with SIGINT ignored
    # (a background job, some CI runners), whose children inherit the ignore: restore the default.
    code = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler);"
        " from d2tools.cli import main; sys.exit(main(['test', '--watch', '.']))"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        lines: queue.Queue[str] = queue.Queue()
        assert proc.stdout is not None
        stdout = proc.stdout
        threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()

        def next_summary() -> str:
            while True:
                line = lines.get(timeout=20).rstrip("\n")
                if line.endswith(" failed"):
                    return line

        try:
            assert next_summary() == "1 passed, 0 failed"
            time.sleep(0.5)
            policy.write_text(RBAC_POLICY.replace("- billing.read", "- billing.other"))
            assert next_summary() == "0 passed, 1 failed"
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()  # never leave the watcher behind, and never wait on it forever
                proc.wait()
                raise
    assert proc.returncode == 0
