"""Checking a call never walks the history: cost depends on the rules mentioning the tool, not on length."""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from d2._core.state import HISTORY_LIMIT, RequestLog
from d2._lang.seqprogram import SequenceProgram

if TYPE_CHECKING:
    from conftest import Seq

ROOT = Path(__file__).parents[3]


class NoWalk(deque[str]):
    """A history that refuses to be iterated or indexed: any rescan fails the test."""

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the history was walked")

    def __reversed__(self) -> Iterator[str]:
        raise AssertionError("the history was walked")

    def __getitem__(self, index: Any) -> Any:
        raise AssertionError("the history was indexed")


def program(seq: Seq) -> SequenceProgram:
    tools = ", ".join(f"src.t{i}" for i in range(50))
    sinks = ", ".join(f"dst.t{i}" for i in range(50))
    result = seq.compile_text(
        f"""
        metadata:
          tool_groups:
            src: [{tools}]
            dst: [{sinks}]
        policies:
          - role: r
            permissions: ["@src", "@dst", other.tool]
            sequence:
              - deny: ["@src", other.tool, "@dst"]
        """
    )
    assert result.policy is not None
    assert isinstance(result.policy.sequence, SequenceProgram)
    return result.policy.sequence


def test_allowed_calls_after_ten_thousand_calls_never_walk_the_history(seq: Seq) -> None:
    prog = program(seq)
    roles = frozenset({"r"})
    # One short of full: a full history is taken as possibly truncated (see the test below).
    prior = ["other.tool"] * (HISTORY_LIMIT - 1)
    # The first check of a request rebuilds progress from the log once; do that on a plain copy...
    plain = RequestLog()
    plain.history.extend(prior)
    prog.sync(plain)
    # ...then wall the history off: from here on, any walk or index raises.
    log = RequestLog()
    walled = NoWalk(maxlen=HISTORY_LIMIT)
    deque.extend(walled, prior)
    log.history = walled
    log.progress.update(plain.progress)
    for tool in ["dst.t1", "src.t3", "src.t4", "dst.t2"] * 300 + ["other.tool"]:
        assert prog.check(log, tool, roles) is None, tool
        deque.append(walled, tool)
        prog.record(log, tool)
    assert len(log.history) == HISTORY_LIMIT
    # The progress alone knows that any @dst call now completes the pattern.
    assert [rule.index for rule in prog.completed_by(log, "dst.t9")] == [0]


def test_refusal_looks_back_a_bounded_window(seq: Seq) -> None:
    prog = program(seq)
    roles = frozenset({"r"})
    log = RequestLog()
    log.history.extend(["src.t0", "other.tool"] + ["dst.t0"] * (HISTORY_LIMIT - 2))
    prog.sync(log)
    violation = prog.check(log, "dst.t5", roles)
    assert violation is not None
    assert "@src → other.tool (earlier)" in violation.message


@pytest.mark.slow
def test_benchmark_overhead_is_flat_and_small() -> None:
    """Timing is machine-dependent, so this runs only with -m slow; the figures are in the report."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import sequence as bench  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    figures = bench.run(with_sequence=True)
    for case in ("egress, allowed", "sensitive read (advances)"):
        short, long = (figures[(case, n)] - figures[("bare call", n)] for n in bench.PRIORS)
        assert short <= 2.0 and long <= 2.0, (case, short, long)
        assert long <= short * 1.5 + 0.2, (case, short, long)
