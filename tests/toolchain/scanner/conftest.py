"""Fixtures for scanner tests: fixture projects are copied to a temporary directory before use."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from d2tools.scanner import GuardedTool, ScanResult

PROJECTS = Path(__file__).resolve().parents[2] / "fixtures" / "projects"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A fresh copy of the ``shop`` fixture project, outside any git work tree."""
    target = tmp_path / "shop"
    shutil.copytree(PROJECTS / "shop", target)
    return target


def by_qualname(result: ScanResult, file: str) -> dict[str, GuardedTool]:
    """Index the tools of one file by qualname (unique within the fixture files)."""
    return {t.qualname or "": t for t in result.tools if t.file == file}
