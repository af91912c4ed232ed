"""Which files a scan reads: project code yes; environments, build output and ignored files no."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from d2tools.scanner import FindingCode, scan

GUARDED = 'from d2 import d2_guard\n\n@d2_guard("{id}")\ndef f() -> None:\n    return None\n'
HAS_GIT = shutil.which("git") is not None


def _write(path: Path, tool_id: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(GUARDED.format(id=tool_id))


def _add_foreign_dirs(root: Path) -> None:
    """Create directories skipped by name; tests create them because repos often gitignore them."""
    for name in (".venv", "venv", "env", ".tox", ".nox", "build", "dist", "node_modules", "__pycache__"):
        _write(root / name / "x.py", f"skip.{name}")
    _write(root / "lib" / "site-packages" / "pkg.py", "skip.site_packages")
    _write(root / "demo.egg-info" / "x.py", "skip.egg_info")
    _write(root / ".git_like" / ".git" / "hooks.py", "skip.git")


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def test_environment_and_build_directories_are_skipped(tmp_path: Path) -> None:
    _write(tmp_path / "app.py", "keep.app")
    _add_foreign_dirs(tmp_path)
    assert scan([tmp_path]).tool_ids == ("keep.app",)


def test_a_real_package_named_like_a_build_directory_is_kept(tmp_path: Path) -> None:
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "__init__.py").write_text("")
    _write(tmp_path / "build" / "steps.py", "keep.build_package")
    assert scan([tmp_path]).tool_ids == ("keep.build_package",)


def test_any_directory_with_pyvenv_cfg_is_skipped(tmp_path: Path) -> None:
    _write(tmp_path / "tools" / "custom-env-name" / "lib" / "x.py", "skip.venv")
    (tmp_path / "tools" / "custom-env-name" / "pyvenv.cfg").write_text("home = /usr\n")
    _write(tmp_path / "tools" / "run.py", "keep.run")
    assert scan([tmp_path]).tool_ids == ("keep.run",)


@pytest.mark.skipif(not HAS_GIT, reason="git is not installed")
def test_gitignore_is_respected_inside_a_git_work_tree(shop: Path) -> None:
    (shop / "dot-gitignore").rename(shop / ".gitignore")
    _add_foreign_dirs(shop)
    _git(shop, "init", "-q")
    _git(shop, "add", "shop/api.py")  # tracked and untracked files are both listed
    result = scan([shop])
    assert "generated.only_without_git" not in result.tool_ids
    assert not [i for i in result.tool_ids if i.startswith("skip.")]
    assert "catalog.search" in result.tool_ids and "shop.ping" in result.tool_ids


def test_without_git_the_ignored_directory_is_scanned(shop: Path) -> None:
    (shop / "dot-gitignore").rename(shop / ".gitignore")
    assert "generated.only_without_git" in scan([shop]).tool_ids


def test_falls_back_to_walking_when_git_is_absent(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (shop / "dot-gitignore").rename(shop / ".gitignore")
    if HAS_GIT:
        _git(shop, "init", "-q")
    monkeypatch.setenv("PATH", str(shop / "no-such-bin"))
    result = scan([shop])
    assert "generated.only_without_git" in result.tool_ids  # walked, so .gitignore is not applied
    assert "venv.should_not_appear" not in result.tool_ids


def test_explicit_files_are_scanned_and_missing_paths_reported(tmp_path: Path) -> None:
    _write(tmp_path / "build" / "one.py", "explicit.file")
    result = scan([tmp_path / "build" / "one.py", tmp_path / "nope.py"], root=tmp_path)
    assert result.tool_ids == ("explicit.file",)
    (missing,) = result.findings
    assert (missing.code, missing.file, missing.line, missing.col) == (
        FindingCode.UNREADABLE_FILE,
        "nope.py",
        1,
        1,
    )
    assert missing.is_error


def test_a_single_path_may_be_passed_without_a_list(tmp_path: Path) -> None:
    _write(tmp_path / "one.py", "single.path")
    assert scan(tmp_path).tool_ids == scan(str(tmp_path)).tool_ids == ("single.path",)


def test_files_are_reported_relative_to_root_with_forward_slashes(tmp_path: Path) -> None:
    _write(tmp_path / "a" / "b" / "c.py", "x.y")
    (tool,) = scan([tmp_path / "a"], root=tmp_path).tools
    assert tool.file == "a/b/c.py"
    (tool,) = scan([tmp_path / "a"]).tools
    assert tool.file == "b/c.py"
