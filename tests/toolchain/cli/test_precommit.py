"""The pre-commit hooks, run by pre-commit itself (``pre-commit try-repo``) on a throwaway repository.

The hook repository is a snapshot of this working tree committed into a temporary git repository,
so the test covers uncommitted changes too. pre-commit builds the hook's virtualenv with pip from the
package index (hatchling, the runtime and CLI dependencies), which takes about 30 s here; it runs in
the default suite because the hooks are what most users meet first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SNAPSHOT = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "d2", "d2tools", "schemas")
APP = """\
from d2 import d2_guard


@d2_guard("billing.read")
def read(account: str) -> str:
    return account
"""
GOOD = 'policies:\n  - role: viewer\n    permissions: ["billing.read"]\n'
BAD = "policies:\n  - role: viewer\n    permissions:\n      - tool: billing.read\n        conditions:\n          input:\n            account: {minimum: 1}\n"


def _git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    if shutil.which("pre-commit") is None or shutil.which("git") is None:
        pytest.skip("pre-commit and git are needed")
    base = tmp_path_factory.mktemp("precommit")
    repo = base / "hooks"
    repo.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SNAPSHOT:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=ignore)
        else:
            shutil.copy2(source, repo / name)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "snapshot")
    env = {**os.environ, "PRE_COMMIT_HOME": str(base / "cache"), "NO_COLOR": "1"}
    env.pop("D2_POLICY_FILE", None)
    yield repo, env


def _project(tmp_path: Path, policy: str) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text(APP, encoding="utf-8")
    (project / "policy.yaml").write_text(policy, encoding="utf-8")
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    return project


def _try(
    project: Path, hook_repo: tuple[Path, dict[str, str]], hook: str
) -> subprocess.CompletedProcess[str]:
    repo, env = hook_repo
    cmd = ["pre-commit", "try-repo", str(repo), hook, "--all-files", "--color", "never"]
    return subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=900)


def test_lint_hook_passes_a_good_policy_and_fails_a_bad_one(
    tmp_path: Path, hook_repo: tuple[Path, dict[str, str]]
) -> None:
    project = _project(tmp_path, GOOD)
    # Another tool's file named like a policy (issue 13: two such fixtures gave 33 errors): not ours.
    (project / "fixtures").mkdir()
    (project / "fixtures" / "guardrail_policy.json").write_text('{"rules": [{"deny": "x"}]}\n')
    _git(project, "add", "-A")
    good = _try(project, hook_repo, "d2-lint")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "d2 lint" in good.stdout and "Passed" in good.stdout
    (project / "policy.yaml").write_text(BAD, encoding="utf-8")
    _git(project, "add", "-A")
    bad = _try(project, hook_repo, "d2-lint")
    assert bad.returncode == 1
    assert "policy.yaml:7:23: D2E101 unknown operator 'minimum'" in bad.stdout


def test_init_check_hook_detects_drift(tmp_path: Path, hook_repo: tuple[Path, dict[str, str]]) -> None:
    project = _project(tmp_path, GOOD)
    assert _try(project, hook_repo, "d2-init-check").returncode == 0
    (project / "policy.yaml").write_text(GOOD.replace("]", ', "billing.gone"]'), encoding="utf-8")
    _git(project, "add", "-A")
    drift = _try(project, hook_repo, "d2-init-check")
    assert drift.returncode == 1
    assert "D2E711 'billing.gone' is named in the policy" in drift.stdout
