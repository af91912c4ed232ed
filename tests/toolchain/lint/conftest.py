"""Shared fixtures for the linter tests: fixture paths and ``# expect:`` markers."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "lint"
_EXPECT = re.compile(r"#\s*expect:\s*(.+)$")

Marks = set[tuple[str, int, int]]


def expected_marks(path: Path) -> Marks:
    """Read ``# expect: CODE@COL ...`` markers: the diagnostics a fixture must produce, by line."""
    marks: Marks = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        found = _EXPECT.search(line)
        if found:
            for item in found.group(1).split():
                code, _, col = item.partition("@")
                marks.add((code, number, int(col)))
    return marks


@pytest.fixture
def marks() -> Callable[[Path], Marks]:
    """The ``expected_marks`` reader."""
    return expected_marks


@pytest.fixture
def lint_fixtures() -> Path:
    """tests/fixtures/lint."""
    return FIXTURES
