"""Derive a file's import name the way Python will, so auto tool ids match ``func.__module__``."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ModuleNamer", "module_name_for"]


class ModuleNamer:
    """Name modules by their package chain, remembering each directory's package so a scan stats once."""

    def __init__(self) -> None:
        self._packages: dict[Path, str] = {}
        self._tops: dict[str, Path] = {}  # top-level package name -> its directory

    def locate(self, module: str) -> Path | None:
        """Find the file of ``module`` inside a top-level package this namer has seen, if it exists."""
        top, *rest = module.split(".")
        directory = self._tops.get(top)
        if directory is None:
            return None
        base = directory.joinpath(*rest)
        for candidate in (base.with_suffix(".py") if rest else None, base / "__init__.py"):
            if candidate is not None and candidate.is_file():
                return candidate
        return None

    def name(self, path: Path) -> str:
        """Return the dotted module name of the Python file at ``path`` (absolute)."""
        package = self._package(path.parent)
        if path.stem == "__init__":
            return package or path.parent.name
        return f"{package}.{path.stem}" if package else path.stem

    def _package(self, directory: Path) -> str:
        """Return the dotted package name of ``directory`` ('' when it is not a package)."""
        cached = self._packages.get(directory)
        if cached is not None:
            return cached
        name = ""
        if (directory / "__init__.py").is_file() and directory.parent != directory:
            parent = self._package(directory.parent)
            name = f"{parent}.{directory.name}" if parent else directory.name
            if not parent:
                self._tops.setdefault(name, directory)
        self._packages[directory] = name
        return name


def module_name_for(path: Path, root: Path | None = None) -> str:
    """Return the module name Python gives ``path`` when its top package's parent is on ``sys.path``.

    The name comes from the package chain, not from ``root``: directories are walked upwards while
    they hold an ``__init__.py``, so ``src/app/api/users.py`` (with ``app/__init__.py`` and
    ``app/api/__init__.py``) is ``app.api.users``, ``app/__init__.py`` is ``app``, and a loose
    ``tool.py`` is ``tool``. The walk deliberately continues above ``root``: scanning only
    ``app/api`` must still give ``app.api.users``, as the runtime will. ``root`` only anchors a
    relative ``path`` (default: the current directory).
    """
    base = root if root is not None else Path.cwd()
    absolute = Path(os.path.abspath(path if path.is_absolute() else base / path))
    return ModuleNamer().name(absolute)
