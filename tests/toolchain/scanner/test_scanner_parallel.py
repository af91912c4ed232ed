"""Worker processes give the same result as a serial scan, and progress is reported in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from d2tools.scanner import PARALLEL_THRESHOLD, FindingCode, scan
from d2tools.scanner import _scan as scan_module

MODULE = """from d2 import d2_guard

READ = "svc{i}.read"


@d2_guard(READ)
def read_{i}(key: str) -> str:
    return key


class Api{i}:
    @d2_guard()
    async def write(self, key: str, value: bytes = b"") -> None:
        return None
"""


def _project(root: Path, files: int) -> Path:
    pkg = root / "proj"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for i in range(files):
        (pkg / f"m{i}.py").write_text(MODULE.format(i=i))
    (pkg / "bad.py").write_text("from d2 import d2_guard\ndef broken(:\n")
    return root


def test_parallel_scan_equals_serial_scan(tmp_path: Path) -> None:
    root = _project(tmp_path, 30)
    serial = scan([root], workers=1)
    parallel = scan([root], workers=2)
    assert parallel == serial
    assert len(serial.tools) == 60 and [f.code for f in serial.findings] == [FindingCode.SYNTAX_ERROR]


def test_progress_starts_at_zero_rises_and_ends_at_total(tmp_path: Path) -> None:
    root = _project(tmp_path, PARALLEL_THRESHOLD + 5)  # large enough for the automatic pool
    calls: list[tuple[int, int]] = []
    result = scan([root], on_progress=lambda done, total: calls.append((done, total)))
    total = result.files_scanned
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert all(t == total for _, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_serial_progress_reports_every_file(tmp_path: Path) -> None:
    root = _project(tmp_path, 3)
    calls: list[tuple[int, int]] = []
    scan([root], on_progress=lambda done, total: calls.append((done, total)), workers=1)
    assert calls == [(i, 5) for i in range(6)]


class _BrokenPool:
    """Stands in for a process pool that cannot start (e.g. no /dev/shm in a container)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise OSError("cannot start worker processes")


def test_a_pool_that_cannot_start_falls_back_to_serial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path, 4)
    expected = scan([root], workers=1)
    monkeypatch.setattr(scan_module, "ProcessPoolExecutor", _BrokenPool)
    assert scan([root], workers=2) == expected
