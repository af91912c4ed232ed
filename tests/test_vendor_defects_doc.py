"""docs/vendor-defects.md names real tests: each referenced test function exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_every_referenced_test_exists() -> None:
    text = (ROOT / "docs" / "vendor-defects.md").read_text()
    rows = [row for row in text.splitlines() if "`tests/" in row]
    assert len(rows) == 11
    for row in rows:
        current = None
        for path, name in re.findall(r"`(?:(tests/[\w/]+\.py))?::(\w+)`", row):
            current = path or current
            assert current and f"def {name}(" in (ROOT / current).read_text(), f"{current}::{name} is gone"
