"""Machine reports of a run: JSON (``--format json``) and JUnit XML (``--junit-xml FILE``) for CI.

JUnit: one ``<testsuite>`` per scenario file, one ``<testcase>`` per case (``classname`` is the file,
``name`` the case); a failure carries the same block the text report prints; a file that could not
run is a testcase with an ``<error>``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from ._check import show_value
from ._coverage import CoverageReport
from ._report_text import failure_block
from ._result import CaseResult, FileProblem, RunResult, Status

__all__ = ["to_json", "to_junit_xml"]


def to_json(result: RunResult) -> dict[str, Any]:
    """The run as plain data: summary, cases, file problems, coverage."""
    data: dict[str, Any] = {
        "summary": {
            "passed": result.passed,
            "failed": result.failed,
            "skipped": result.skipped,
            "deselected": result.deselected,
            "steps": result.steps,
            "seconds": round(result.seconds, 6),
            "ok": result.ok,
            "line": result.summary(),
        },
        "cases": [_case(c) for c in result.cases],
        "problems": [_problem(p) for p in result.problems],
        "notes": list(result.notes),
    }
    if result.coverage is not None:
        data["coverage"] = _coverage(result.coverage)
    return data


def _case(result: CaseResult) -> dict[str, Any]:
    case = result.case
    out: dict[str, Any] = {
        "id": case.nodeid,
        "file": case.file,
        "line": case.line,
        "name": case.name,
        "status": str(result.status),
        "policy": result.policy,
        "steps_run": result.steps_run,
    }
    if case.row is not None:
        out["row"] = case.row
    if case.skip is not None:
        out["skip_reason"] = case.skip
    failure = result.failure
    if failure is not None:
        step = failure.step
        out["failure"] = {
            "what": failure.what,
            "step": None if step is None else step.index + 1,
            "step_line": None if step is None else step.line,
            "call": None if step is None else step.describe(),
            "expected": failure.expected,
            "actual": failure.actual,
            "why": failure.note,
            "rule": failure.rule,
            "rule_text": failure.rule_text,
        }
        if failure.what == "output" and failure.outcome is not None:
            out["failure"]["actual_output"] = show_value(failure.outcome.output, 10_000)
    return out


def _problem(problem: FileProblem) -> dict[str, Any]:
    return {
        "file": problem.file,
        "message": problem.message,
        "diagnostics": [
            {
                "code": d.code,
                "message": d.message,
                "severity": str(d.severity),
                "file": d.file,
                "line": d.line,
                "col": d.col,
                "hint": d.hint,
            }
            for d in problem.diagnostics
        ],
    }


def _coverage(report: CoverageReport) -> dict[str, Any]:
    return {
        "percent": round(report.percent, 2),
        "covered": report.covered,
        "total": report.total,
        "minimum": report.minimum,
        "ok": report.ok,
        "policies": [
            {
                "policy": pc.policy,
                "percent": round(pc.percent, 2),
                "covered": len(pc.covered),
                "total": len(pc.units),
                "uncovered": [
                    {"kind": u.kind, "label": u.label, "line": u.start[0], "col": u.start[1]}
                    for u in pc.uncovered
                ],
            }
            for pc in report.policies
        ],
    }


# Characters XML 1.0 cannot carry at all (even escaped); scenario values may contain them.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text)


def to_junit_xml(result: RunResult) -> str:
    """The run as JUnit XML, the format CI systems (GitHub, GitLab, Jenkins) render as test results."""
    root = ET.Element("testsuites", name="d2 test")
    by_file: dict[str, list[CaseResult]] = {}
    for case in result.cases:
        by_file.setdefault(case.case.file, []).append(case)
    for file, cases in by_file.items():
        suite = _suite(root, file, cases)
        for case in cases:
            _testcase(suite, case)
    for problem in result.problems:
        suite = _suite(root, problem.file, [])
        suite.set("errors", "1")
        suite.set("tests", "1")
        tc = ET.SubElement(suite, "testcase", classname=problem.file, name="(load)", file=problem.file)
        err = ET.SubElement(tc, "error", message=problem.message)
        err.text = "\n".join([problem.message, *(d.render() for d in problem.diagnostics)])
    _totals(root, result)
    for node in root.iter():
        node.attrib = {k: _clean(v) for k, v in node.attrib.items()}
        if node.text:
            node.text = _clean(node.text)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _suite(root: ET.Element, file: str, cases: list[CaseResult]) -> ET.Element:
    return ET.SubElement(
        root,
        "testsuite",
        name=file,
        tests=str(len(cases)),
        failures=str(sum(1 for c in cases if c.status is Status.FAILED)),
        skipped=str(sum(1 for c in cases if c.status is Status.SKIPPED)),
        errors="0",
        time=f"{sum(c.seconds for c in cases):.6f}",
    )


def _testcase(suite: ET.Element, result: CaseResult) -> None:
    case = result.case
    tc = ET.SubElement(
        suite,
        "testcase",
        classname=case.file,
        name=case.name,
        file=case.file,
        line=str(case.line),
        time=f"{result.seconds:.6f}",
    )
    if result.status is Status.SKIPPED:
        ET.SubElement(tc, "skipped", message=case.skip or "skipped")
    elif result.status is Status.FAILED and result.failure is not None:
        failure = result.failure
        message = f"{failure.what}: expected {failure.expected}, got {failure.actual}"
        if failure.what == "error":
            message = failure.actual
        node = ET.SubElement(tc, "failure", message=message, type=failure.what)
        node.text = "\n".join(failure_block(result))


def _totals(root: ET.Element, result: RunResult) -> None:
    root.set("tests", str(len(result.cases) + len(result.problems)))
    root.set("failures", str(sum(1 for c in result.cases if c.status is Status.FAILED)))
    root.set("errors", str(len(result.problems)))
    root.set("skipped", str(result.skipped))
    root.set("time", f"{result.seconds:.6f}")
