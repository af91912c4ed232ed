"""The load bench, shortened, kept from rotting (slow: run with ``-m slow``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_control_plane_load_bench_runs_clean() -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "control_plane_load.py"),
            "--pollers",
            "200",
            "--duration",
            "8",
            "--publish-every",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "errors 0" in out
    ratio = float(out.split("304 ratio")[1].split()[0])
    assert 0.5 < ratio < 1.0
