"""pytest plugin: collect ``*.d2test.yaml`` scenario files, one test item per case.

A project's existing ``pytest`` run then replays its policy scenarios too, with the same failure
blocks ``d2 test`` prints. Options: ``--d2-policy FILE`` (test a candidate policy), ``--d2-code DIR``
(read tool parameter lists from source); ini keys ``d2_policy`` and ``d2_code`` do the same.
Disable with ``-p no:d2test``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from ._model import Case, ToolSignature
from ._replay import Replayer
from ._report_text import failure_block, problem_block
from ._result import FileProblem, Status
from ._runner import SUFFIX, prepare

__all__ = ["D2ScenarioFile", "D2ScenarioItem"]

_SCAN_KEY = pytest.StashKey[tuple[Mapping[str, ToolSignature], list[str]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("d2", "d2 policy scenarios (*.d2test.yaml)")
    group.addoption(
        "--d2-policy", metavar="FILE", default=None, help="test this policy in every scenario file"
    )
    group.addoption(
        "--d2-code",
        metavar="DIR",
        action="append",
        default=None,
        help="read tool parameter lists from source",
    )
    parser.addini("d2_policy", "policy every scenario file tests (default: each file's own)", default=None)
    parser.addini("d2_code", "source paths to read tool parameter lists from", type="linelist", default=[])


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(SUFFIX):
        collector: D2ScenarioFile = D2ScenarioFile.from_parent(parent, path=file_path)
        return collector
    return None


class D2ScenarioFile(pytest.File):
    """A scenario file: its cases become items; a file that cannot load becomes one failing item."""

    def collect(self) -> Iterator[pytest.Item]:
        config = self.config
        policy = config.getoption("--d2-policy") or config.getini("d2_policy") or None
        suite = prepare([self.path], policy=policy, scanned=_scanned(config))
        for problem in suite.problems:
            yield D2LoadError.from_parent(self, name="(load)", problem=problem)
        for prepared in suite.files:
            for case in prepared.scenario.cases:
                item = D2ScenarioItem.from_parent(self, name=case.name, case=case, replayer=prepared.replayer)
                if case.skip is not None:
                    # A marker (not pytest.skip() in runtest) makes pytest report the case's own line.
                    item.add_marker(pytest.mark.skip(reason=case.skip or "skipped in the scenario file"))
                yield item


def _scanned(config: pytest.Config) -> Mapping[str, ToolSignature]:
    """Scan the code once per session, however many scenario files there are."""
    found = config.stash.get(_SCAN_KEY, None)
    if found is None:
        code = config.getoption("--d2-code") or [str(p) for p in config.getini("d2_code")]
        found = ({}, [])
        if code:
            from ._signature import from_scan

            found = from_scan([Path(c) for c in code])
        config.stash[_SCAN_KEY] = found
    return found[0]


class ScenarioFailed(Exception):
    """Raised by an item whose case did not pass; carries the text ``d2 test`` would print."""


class D2ScenarioItem(pytest.Item):
    """One case, replayed through the policy engine."""

    def __init__(self, *, case: Case, replayer: Replayer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.replayer = replayer

    def runtest(self) -> None:
        result = self.replayer.run_case(self.case)
        if result.status is Status.FAILED:
            raise ScenarioFailed("\n".join(failure_block(result)))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.line - 1, f"d2 scenario: {self.case.name}"


class D2LoadError(pytest.Item):
    """A scenario file (or its policy) that does not load; fails with every diagnostic."""

    def __init__(self, *, problem: FileProblem, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.problem = problem

    def runtest(self) -> None:
        raise ScenarioFailed("\n".join(problem_block(self.problem)))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"d2 scenario file: {self.problem.message}"
