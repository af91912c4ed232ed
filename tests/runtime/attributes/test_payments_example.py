"""The payments-agent example runs offline and refuses exactly the injected calls."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).parents[3] / "examples" / "payments_agent"


def test_demo_output_matches_and_only_injected_calls_are_refused() -> None:
    out = subprocess.run(
        [sys.executable, str(EXAMPLE / "demo.py")], capture_output=True, text=True, check=True
    ).stdout
    assert out == (EXAMPLE / "expected_output.txt").read_text()
    restricted = out.split("with the restriction", 1)[1].splitlines()[1:]
    for line in restricted:
        assert ("[injected]" in line) == line.lstrip().startswith("DENY"), line
