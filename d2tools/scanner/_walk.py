"""Find the Python files of a project, skipping what is not the project's own code.

Inside a git work tree the file list comes from git, so ``.gitignore`` (and nested ignore files,
``.git/info/exclude``, the global excludes file) is honoured exactly as git reads it. Without git,
or when git fails, directories are walked and only the built-in skip rules apply.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["SKIP_ALWAYS", "SKIP_UNLESS_PACKAGE", "discover"]

# Never project code: tool caches and version-control metadata.
SKIP_ALWAYS = frozenset(
    {".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".eggs"}
)
# Usually environments or build output; a directory with an ``__init__.py`` is a real package
# (``build`` and ``env`` are fine package names), so it is kept.
SKIP_UNLESS_PACKAGE = frozenset(
    {".venv", "venv", "env", ".env", ".tox", ".nox", "build", "dist", "node_modules", "site-packages"}
)
_GIT_TIMEOUT_S = 60


def discover(paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """Return (absolute ``.py`` files to scan, sorted and unique; given paths that do not exist).

    A file named explicitly is always scanned; directories are searched recursively.
    """
    found: set[Path] = set()
    missing: list[Path] = []
    for given in paths:
        path = Path(os.path.abspath(given))
        if path.is_file():
            found.add(path)
        elif path.is_dir():
            found.update(_files_under(path))
        else:
            missing.append(path)
    return sorted(found), missing


def _files_under(top: Path) -> list[Path]:
    """List the ``.py`` files below ``top``, through git when ``top`` is inside a work tree."""
    listed = _git_listed(top)
    if listed is None:
        return list(_walk(top))
    rules = _SkipRules(top)
    return [p for p in listed if not rules.skips(p.parent)]


def _git_listed(top: Path) -> list[Path] | None:
    """Ask git for tracked and unignored untracked files; ``None`` when git is absent or refuses."""
    cmd = [
        "git",
        "-C",
        str(top),
        "ls-files",
        "--cached",
        "--others",
        "--exclude-standard",
        "-z",
        "--",
        "*.py",
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=_GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    names = proc.stdout.decode("utf-8", "surrogateescape").split("\0")
    # --cached also lists files deleted from the work tree but not yet from the index.
    return [path for name in names if name for path in [top / name] if path.is_file()]


def _walk(top: Path) -> Iterable[Path]:
    """Walk ``top`` without following directory symlinks, pruning skipped directories early."""
    rules = _SkipRules(top)
    for dirpath, dirnames, filenames in os.walk(top):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not rules.skips(here / d))
        for name in filenames:
            if name.endswith(".py"):
                yield here / name


class _SkipRules:
    """Decide, once per directory, whether a directory below ``top`` is outside the project's code."""

    def __init__(self, top: Path) -> None:
        self._top = top
        self._decided: dict[Path, bool] = {top: False}

    def skips(self, directory: Path) -> bool:
        decided = self._decided.get(directory)
        if decided is None:
            parent = directory.parent
            inherited = parent != directory and self.skips(parent)
            decided = inherited or _is_foreign(directory)
            self._decided[directory] = decided
        return decided


def _is_foreign(directory: Path) -> bool:
    """True for caches, VCS metadata, virtualenvs, build output and installed packages."""
    name = directory.name
    if name in SKIP_ALWAYS or name.endswith(".egg-info"):
        return True
    if (directory / "pyvenv.cfg").is_file():
        return True
    return name in SKIP_UNLESS_PACKAGE and not (directory / "__init__.py").is_file()
