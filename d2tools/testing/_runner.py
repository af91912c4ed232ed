"""Collect scenario files, pair each with its policy and tool parameter lists, and replay the cases.

:func:`prepare` does everything up to replay (the pytest plugin collects from it); :func:`run` also
replays, measures, and adds coverage. Neither raises for a malformed scenario or policy: each such
file becomes a :class:`FileProblem`, counted as one failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter

from ._coverage import CoverageReport, CoverageTracker
from ._load import load_scenario_file
from ._model import ScenarioFile, ToolSignature
from ._policies import LoadedPolicy, PolicyCache, find_policy
from ._replay import Replayer
from ._result import CaseResult, FileProblem, RunResult
from ._select import compile_selector

__all__ = ["SUFFIX", "Prepared", "Suite", "collect_files", "display_path", "prepare", "run"]

SUFFIX = ".d2test.yaml"


@dataclass(frozen=True, slots=True)
class Prepared:
    """A scenario file ready to replay: its cases and a replayer bound to its policy."""

    scenario: ScenarioFile
    replayer: Replayer
    policy: LoadedPolicy


@dataclass
class Suite:
    """Everything collected: runnable files, files that cannot run, and notes (e.g. scanner findings)."""

    files: list[Prepared] = field(default_factory=list)
    problems: list[FileProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    trackers: dict[Path, CoverageTracker] = field(default_factory=dict)


def display_path(path: Path) -> str:
    """Show ``path`` relative to the working directory when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def collect_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[FileProblem]]:
    """Expand directories to their ``*.d2test.yaml`` files (sorted); a named file is taken as is."""
    files: list[Path] = []
    problems: list[FileProblem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob(f"*{SUFFIX}") if p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            problems.append(FileProblem(str(path), f"{path}: no such file or directory"))
    return list(dict.fromkeys(p.resolve() for p in files)), problems


def prepare(
    paths: Sequence[str | Path],
    *,
    policy: str | Path | None = None,
    code: Sequence[str | Path] = (),
    coverage: bool = False,
    scanned: Mapping[str, ToolSignature] | None = None,
) -> Suite:
    """Load every scenario file under ``paths`` and the policies they test.

    ``code`` is scanned for tool parameter lists, unless ``scanned`` (an earlier scan) is given.
    """
    suite = Suite()
    files, suite.problems = collect_files(paths)
    if scanned is None:
        scanned = {}
        if code:
            from ._signature import from_scan

            scanned, suite.notes = from_scan([Path(c) for c in code])
    cache = PolicyCache()
    override = Path(policy) if policy is not None else None
    for path in files:
        _prepare_file(suite, path, override, scanned, cache, coverage)
    return suite


def _prepare_file(
    suite: Suite,
    path: Path,
    override: Path | None,
    scanned: Mapping[str, ToolSignature],
    cache: PolicyCache,
    coverage: bool,
) -> None:
    display = display_path(path)
    loaded = load_scenario_file(path, display=display)
    if loaded.scenario is None:
        suite.problems.append(FileProblem(display, "scenario file has errors", loaded.errors))
        return
    scenario = loaded.scenario
    found = find_policy(path.parent, scenario.policy, override)
    if isinstance(found, str):
        suite.problems.append(FileProblem(display, found))
        return
    policy = cache.get(found, display_path(found))
    if policy.policy is None:
        message = policy.error or "policy does not load"
        errors = tuple(d for d in policy.diagnostics if d.is_error)
        suite.problems.append(FileProblem(display, message, errors, display_path(found)))
        return
    observer = None
    if coverage and policy.doc is not None:
        key = policy.path.resolve()
        if key not in suite.trackers:
            suite.trackers[key] = CoverageTracker(policy.policy, policy.doc)
        observer = suite.trackers[key]
    signatures = {**scanned, **scenario.tools}
    replayer = Replayer(policy.policy, signatures, policy_text=policy.text, observer=observer)
    suite.files.append(Prepared(scenario, replayer, policy))


def run(
    paths: Sequence[str | Path],
    *,
    policy: str | Path | None = None,
    code: Sequence[str | Path] = (),
    select: str | None = None,
    coverage: bool = False,
    coverage_min: float | None = None,
) -> RunResult:
    """Replay every case under ``paths``; return the results (raises SelectError for a bad ``select``)."""
    started = perf_counter()
    chosen = compile_selector(select) if select else None
    suite = prepare(paths, policy=policy, code=code, coverage=coverage or coverage_min is not None)
    results: list[CaseResult] = []
    deselected = 0
    for prepared in suite.files:
        for case in prepared.scenario.cases:
            if chosen is not None and not chosen(case.nodeid):
                deselected += 1
                continue
            results.append(prepared.replayer.run_case(case))
    report = None
    if suite.trackers:
        report = CoverageReport(tuple(t.report() for t in suite.trackers.values()), coverage_min)
    return RunResult(
        tuple(results),
        tuple(suite.problems),
        report,
        perf_counter() - started,
        deselected,
        tuple(suite.notes),
    )
