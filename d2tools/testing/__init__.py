"""``d2 test``: replay scenario files (``*.d2test.yaml``) through the real policy engine, for CI.

A scenario file names the policy it tests and lists cases; a case is one request (a user, roles,
and steps that share history and facts); a step calls a tool and states what the policy must
decide. The runner calls the engine the guard calls (``authorize``, ``apply_output``), so a
scenario that passes here behaves the same in production.

Use from Python::

    from d2tools.testing import run, render_text
    result = run(["scenarios/"], coverage=True)
    print(render_text(result)); raise SystemExit(0 if result.ok else 1)
"""

from __future__ import annotations

from ._coverage import CoverageReport, PolicyCoverage
from ._load import LoadResult, load_scenario_file, load_scenario_text
from ._model import Case, Decision, Expect, RuleRef, ScenarioFile, Step, ToolSignature
from ._report_data import to_json, to_junit_xml
from ._report_text import case_line, coverage_lines, failure_block, problem_block, render_text
from ._result import CaseResult, Failure, FileProblem, Outcome, RunResult, Status
from ._runner import SUFFIX, Prepared, Suite, collect_files, prepare, run
from ._select import SelectError, compile_selector
from ._starter import starter_scenario
from ._universe import Unit

__all__ = [
    "SUFFIX",
    "Case",
    "CaseResult",
    "CoverageReport",
    "Decision",
    "Expect",
    "Failure",
    "FileProblem",
    "LoadResult",
    "Outcome",
    "PolicyCoverage",
    "Prepared",
    "RuleRef",
    "RunResult",
    "ScenarioFile",
    "SelectError",
    "Status",
    "Step",
    "Suite",
    "ToolSignature",
    "Unit",
    "case_line",
    "collect_files",
    "compile_selector",
    "coverage_lines",
    "failure_block",
    "load_scenario_file",
    "load_scenario_text",
    "prepare",
    "problem_block",
    "render_text",
    "run",
    "starter_scenario",
    "to_json",
    "to_junit_xml",
]
