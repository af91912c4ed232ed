"""Scan a project: discover files, parse them (in worker processes when that pays), link, sort."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from d2 import Severity

from ._file import FileJob, FileScan, scan_file
from ._link import link
from ._model import FindingCode, ScanFinding, ScanResult
from ._modname import ModuleNamer
from ._walk import discover

__all__ = ["PARALLEL_THRESHOLD", "ProgressCallback", "scan"]

ProgressCallback = Callable[[int, int], None]

# Below this many files a process pool costs more (start-up, imports, pickling) than it saves.
# Measured with bench/scan.py on a 2-core machine, one scan per fresh process: 25 files 0.38 s
# serial vs 0.42 s with 2 workers; 40 files 0.67 vs 0.59 s; 100 files 1.43 vs 1.05 s.
PARALLEL_THRESHOLD = 40
_FILES_PER_WORKER = 20  # don't start a process for fewer files than this
_CHUNKS_PER_WORKER = 6
_MAX_CHUNK = 64


def scan(
    paths: Sequence[Path | str] | Path | str,
    *,
    root: Path | str | None = None,
    on_progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> ScanResult:
    """Find every function guarded with ``@d2_guard``/``@d2`` under ``paths`` (files or directories).

    ``root`` is the directory file names are shown relative to (default: the single directory given,
    else the common parent of ``paths``); it does not change module names, which follow packages.
    ``on_progress(done, total)`` is called with ``done=0`` first and then as files finish, always in
    the calling thread. ``workers`` forces the number of processes (1 = serial); by default a pool
    of one process per CPU is used from :data:`PARALLEL_THRESHOLD` files on.
    """
    given = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    files, missing = discover(given)
    base = _root(given, root)
    namer = ModuleNamer()
    jobs = [FileJob(str(f), _display(f, base), namer.name(f), f.name == "__init__.py") for f in files]
    scans = _scan_all(jobs, on_progress, workers)
    scans = link(scans, lambda module: _load(module, jobs, namer, base))
    findings = [f for s in scans for f in s.findings]
    findings += [_missing(p, base) for p in missing]
    return ScanResult(
        tools=tuple(sorted((t for s in scans for t in s.tools), key=lambda t: (t.file, t.line, t.col))),
        findings=tuple(sorted(findings, key=lambda f: (f.file, f.line, f.col, f.code.value))),
        files_scanned=len(jobs),
    )


def _scan_all(
    jobs: list[FileJob], on_progress: ProgressCallback | None, workers: int | None
) -> list[FileScan]:
    total = len(jobs)
    report = on_progress or _no_progress
    report(0, total)
    count = workers if workers is not None else _auto_workers(total)
    results: list[FileScan | None] = [None] * total
    done = _scan_parallel(jobs, results, report, count) if count > 1 and total > 1 else 0
    for index, job in enumerate(jobs):
        if results[index] is None:  # serial mode, or what a broken pool left undone
            results[index] = scan_file(job)
            done += 1
            report(done, total)
    return [r for r in results if r is not None]


def _scan_parallel(
    jobs: list[FileJob], results: list[FileScan | None], report: ProgressCallback, count: int
) -> int:
    """Fill ``results`` chunk by chunk from a process pool; leave ``None`` where the pool failed."""
    size = max(1, min(_MAX_CHUNK, len(jobs) // (count * _CHUNKS_PER_WORKER)))
    done = 0
    try:
        with ProcessPoolExecutor(max_workers=count, mp_context=_context()) as pool:
            futures = {pool.submit(_scan_chunk, jobs[i : i + size]): i for i in range(0, len(jobs), size)}
            for future in as_completed(futures):
                try:
                    chunk = future.result()
                except Exception:  # a dead worker or an unpicklable result: redo the chunk serially
                    continue
                start = futures[future]
                results[start : start + len(chunk)] = chunk
                done += len(chunk)
                report(done, len(jobs))
    except (OSError, NotImplementedError, ImportError):
        pass  # no processes could be started here; the caller scans what is left in this process
    return done


def _load(module: str, jobs: list[FileJob], namer: ModuleNamer, base: Path) -> FileScan | None:
    """Scan a module that defines an imported tool id: from the scan, else from its package on disk."""
    job = next((j for j in jobs if j.module == module), None)
    if job is None:
        path = namer.locate(module)
        if path is None:
            return None
        job = FileJob(str(path), _display(path, base), module, path.name == "__init__.py")
    return scan_file(job, force=True)


def _auto_workers(total: int) -> int:
    if total < PARALLEL_THRESHOLD:
        return 1
    return max(1, min(os.cpu_count() or 1, total // _FILES_PER_WORKER))


def _scan_chunk(jobs: list[FileJob]) -> list[FileScan]:
    return [scan_file(job) for job in jobs]


def _context() -> multiprocessing.context.BaseContext:
    """Use a start method that is safe in a multi-threaded caller (a Rich progress bar runs a thread)."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _root(paths: list[Path], root: Path | str | None) -> Path:
    if root is not None:
        return Path(os.path.abspath(root))
    dirs = [os.path.abspath(p if p.is_dir() else p.parent) for p in paths]
    if not dirs:
        return Path.cwd()
    try:
        return Path(os.path.commonpath(dirs))
    except ValueError:  # different drives on Windows
        return Path.cwd()


def _display(path: Path, base: Path) -> str:
    """Show ``path`` relative to the scan root, with forward slashes on every platform."""
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:
        return path.as_posix()


def _missing(path: Path, base: Path) -> ScanFinding:
    return ScanFinding(
        FindingCode.UNREADABLE_FILE,
        "no such file or directory",
        Severity.ERROR,
        _display(path, base),
        1,
        1,
        "check the path",
    )


def _no_progress(done: int, total: int) -> None:
    return None
