"""The pytest plugin collects ``*.d2test.yaml`` files: one item per case, d2's failure block on failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import RBAC_POLICY, REPO, Writer

# Installed through the `pytest11` entry point (pyproject.toml) under this name.
PLUGIN_NAME = "d2test"


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", "D2_SILENT": "1"}
    env.pop("D2_POLICY_FILE", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_plugin_collects_and_reports_cases(project: Writer, tmp_path: Path) -> None:
    project("pytest.ini", "[pytest]\n")
    project("policy.yaml", RBAC_POLICY)
    project(
        "scenarios/billing.d2test.yaml",
        """
        cases:
          - {name: viewer reads, roles: [viewer], steps: [{call: billing.read}]}
          - {name: viewer refunds a lot, roles: [viewer], steps: [{call: billing.refund, args: {amount: 500}}]}
          - {name: later, skip: not yet, steps: [{call: x}]}
        """,
    )
    project("scenarios/broken.d2test.yaml", "cases:\n  - name: x\n    stepz: []\n")
    project("test_plain.py", "def test_ordinary():\n    assert True\n")
    result = _pytest(tmp_path)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "PASSED scenarios/billing.d2test.yaml::viewer reads" in out
    assert "FAILED scenarios/billing.d2test.yaml::viewer refunds a lot" in out
    assert "SKIPPED [1] scenarios/billing.d2test.yaml: not yet" in out
    assert "FAILED scenarios/broken.d2test.yaml::(load)" in out
    assert "PASSED test_plain.py::test_ordinary" in out
    assert "expected: allow" in out and "actual:   deny (input_validation)" in out
    assert "rule:     policy.yaml:8:33" in out
    assert (
        "scenarios/broken.d2test.yaml:3:5: D2E002 unknown key 'stepz' in case (did you mean 'steps'?)" in out
    )
    assert "2 failed, 2 passed, 1 skipped" in out
    assert "Traceback" not in out


def test_plugin_k_and_policy_option(project: Writer, tmp_path: Path) -> None:
    project("pytest.ini", "[pytest]\n")
    project("policy.yaml", RBAC_POLICY)
    project("strict.yaml", "policies: [{role: viewer, permissions: []}]\n")
    project(
        "a.d2test.yaml", "cases: [{name: viewer reads, roles: [viewer], steps: [{call: billing.read}]}]\n"
    )
    assert _pytest(tmp_path, "-k", "reads").returncode == 0
    strict = _pytest(tmp_path, "--d2-policy", "strict.yaml")
    assert strict.returncode == 1
    assert "actual:   deny (unknown_tool)" in strict.stdout


def test_plugin_can_be_disabled(project: Writer, tmp_path: Path) -> None:
    project("pytest.ini", "[pytest]\n")
    project("a.d2test.yaml", "cases: [{name: x, steps: [{call: y}]}]\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", f"no:{PLUGIN_NAME}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "no tests ran" in result.stdout
