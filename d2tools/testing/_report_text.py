"""The text report: a line per case, a block per failure, coverage, and the closing count line.

Plain text only (the CLI adds colour); the pytest plugin shows the same failure blocks, so a failing
policy reads the same in ``d2 test`` and in ``pytest``.
"""

from __future__ import annotations

from ._coverage import CoverageReport
from ._result import CaseResult, FileProblem, RunResult, Status

__all__ = ["case_line", "coverage_lines", "failure_block", "problem_block", "render_text", "timing_lines"]

_MARK = {Status.PASSED: "PASS", Status.FAILED: "FAIL", Status.SKIPPED: "SKIP"}


def case_line(result: CaseResult) -> str:
    """``PASS  file::name`` (a skip says why)."""
    line = f"{_MARK[result.status]}  {result.case.nodeid}"
    if result.status is Status.SKIPPED and result.case.skip:
        line += f"  ({result.case.skip})"
    return line


def failure_block(result: CaseResult) -> list[str]:
    """The step that failed, expected vs actual, and the deciding rule with its policy text."""
    case, failure = result.case, result.failure
    assert failure is not None
    who = f"{case.user.user_id} [{', '.join(sorted(case.user.roles)) or 'no roles'}]"
    row = f", row {case.row} of its table" if case.row is not None else ""
    lines = [f"case {case.location}{row}, as {who}, policy {result.policy}"]
    step = failure.step
    if step is not None:
        actor = ""
        if step.actor is not None:
            actor = f" as {step.actor.user_id} [{', '.join(sorted(step.actor.roles)) or 'no roles'}]"
        lines.append(f"step {step.index + 1} of {len(case.steps)} ({case.file}:{step.line}:{step.col}): "
                     f"{step.describe()}{actor}")  # fmt: skip
    label = "error" if failure.what == "error" else f"{failure.what} differs"
    lines.append(f"  {label}:")
    if failure.what == "error":
        lines.append(f"    {failure.actual}")
        return lines
    lines.append(f"    expected: {failure.expected}")
    lines.append(f"    actual:   {failure.actual}")
    if failure.note:
        lines.append(f"    why:      {failure.note}")
    if failure.rule:
        lines.append(f"    rule:     {failure.rule}")
        if failure.rule_text is not None:
            lines.append(f"              | {failure.rule_text.strip()}")
    elif failure.outcome is not None and failure.outcome.allowed:
        lines.append("    rule:     (no grant found)")
    return lines


def problem_block(problem: FileProblem) -> list[str]:
    """A file that could not run: why, and each diagnostic with file:line:col."""
    lines = [f"ERROR {problem.file}: {problem.message}"]
    lines.extend(f"  {d.render()}" for d in problem.diagnostics)
    return lines


def coverage_lines(report: CoverageReport) -> list[str]:
    """Per policy: the share of rules exercised, then every rule no case exercised."""
    lines = [f"coverage: {report.percent:.1f}% ({report.covered} of {report.total} rules exercised)"]
    for pc in report.policies:
        lines.append(f"  {pc.policy}: {pc.percent:.1f}% ({len(pc.covered)}/{len(pc.units)})")
        for unit in sorted(pc.uncovered, key=lambda u: u.start):
            where = f"{pc.policy}:{unit.start[0]}:{unit.start[1]}"
            lines.append(f"    not exercised: {where}  {unit.kind}: {unit.label}")
    if report.minimum is not None and not report.ok:
        lines.append(f"coverage {report.percent:.1f}% is below the minimum {report.minimum:g}%")
    return lines


def timing_lines(result: RunResult, slowest: int = 0) -> list[str]:
    """How long the run took, and (``--durations N``) its ``N`` slowest cases, slowest first."""
    lines = [
        f"ran {len(result.cases)} case(s), {result.steps} step(s) in {_ms(result.seconds)}"
        f" ({_ms(sum(c.seconds for c in result.cases))} replaying)"
    ]
    if slowest:
        lines.append(f"slowest {min(slowest, len(result.cases))} case(s):")
        ranked = sorted(result.cases, key=lambda c: c.seconds, reverse=True)[:slowest]
        lines.extend(f"  {_ms(c.seconds):>10}  {c.case.nodeid}" for c in ranked)
    return lines


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 10 else f"{seconds:.2f} s"


def render_text(result: RunResult, *, quiet: bool = False, durations: int = 0) -> str:
    """The whole report, ending with exactly ``N passed, N failed`` (``, N skipped`` when any)."""
    sections: list[list[str]] = []
    if not quiet:
        sections.append([case_line(c) for c in result.cases])
    sections.extend(problem_block(p) for p in result.problems)
    for case in result.cases:
        if case.status is Status.FAILED:
            sections.append([f"FAIL {case.case.nodeid}", *(f"  {line}" for line in failure_block(case))])
    if result.notes:
        sections.append([f"note: {n}" for n in result.notes])
    if result.coverage is not None:
        sections.append(coverage_lines(result.coverage))
    lines: list[str] = []
    for section in sections:
        if section:
            if lines:
                lines.append("")
            lines.extend(section)
    if result.deselected:
        lines.append(f"({result.deselected} deselected by -k)")
    if durations:
        lines.extend(timing_lines(result, durations))
    lines.append(result.summary())
    return "\n".join(lines) + "\n"
