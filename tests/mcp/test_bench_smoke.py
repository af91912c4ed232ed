"""The proxy bench keeps running against the example server (its in-process half, a few calls)."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def test_the_in_process_half_of_the_proxy_bench_runs(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_mcp_proxy", ROOT / "bench" / "mcp_proxy.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench
    try:
        spec.loader.exec_module(bench)
        asyncio.run(bench.in_process(3))
    finally:
        sys.modules.pop(spec.name, None)
        sys.modules.pop("crm_server", None)
    out = capsys.readouterr().out
    assert "read_notes (plain grant)" in out and "lookup_customer (input + output rules)" in out
