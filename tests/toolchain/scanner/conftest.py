"""Fixtures for scanner tests: fixture projects are copied to a temporary directory before use."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

PROJECTS = Path(__file__).resolve().parents[2] / "fixtures" / "projects"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A fresh copy of the ``shop`` fixture project, outside any git work tree."""
    target = tmp_path / "shop"
    shutil.copytree(PROJECTS / "shop", target)
    return target
