"""Off a terminal, ``d2 lint`` writes its text report without Rich's console: the bytes must not change.

:func:`print_text` skips building a console (~20 ms of a lint run's start-up, issue 15) when the
console would only copy the plain characters. These tests compare the two on text a policy can put in
a finding: control characters, tabs, wide characters, blanks at line ends, lines past the pipe width,
markup-like brackets, and the environment variables that change Rich's idea of a terminal.
"""

from __future__ import annotations

import io
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.text import Text

from d2tools.cli import _common

# Characters Rich treats specially, and ordinary ones; wide ones (CJK, emoji) count two cells.
_ALPHABET = st.sampled_from(
    [*"ab z:()'[]/.\\\t\n\r\x07\x08\x0b\x0c\x1b\x1c\x85\u2028\u00a0\u3000", "中", "文", "😀", "é"]
)
_PIECES = st.lists(
    st.tuples(st.text(_ALPHABET, max_size=40), st.sampled_from([None, "bold", "bold red", "cyan", "green"])),
    max_size=8,
)


def _styled(pieces: list[tuple[str, str | None]], tail: int) -> Text:
    text = Text()
    for chunk, style in pieces:
        text.append(chunk, style=style)
    text.append("y" * tail)  # reaches past the 200-column pipe width for some examples
    return text


def _both(text: Text, stderr: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    stream = "stderr" if stderr else "stdout"
    rich_out, ours = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, stream, rich_out)
    _common.make_console(stderr=stderr).print(text)
    monkeypatch.setattr(sys, stream, ours)
    _common.print_text(text, stderr=stderr)
    return rich_out.getvalue(), ours.getvalue()


@pytest.mark.parametrize(
    "env",
    [{}, {"FORCE_COLOR": "1"}, {"TTY_COMPATIBLE": "1", "TERM": "dumb"}, {"COLUMNS": "20"}, {"NO_COLOR": "1"}],
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=_PIECES, tail=st.sampled_from([0, 150, 260]), stderr=st.booleans())
def test_plain_output_is_byte_for_byte_the_consoles(
    env: dict[str, str],
    pieces: list[tuple[str, str | None]],
    tail: int,
    stderr: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TERM", "COLUMNS", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    expected, got = _both(_styled(pieces, tail), stderr, monkeypatch)
    assert got == expected


@pytest.mark.parametrize(
    "plain",
    ["a\tb", "ends in a blank ", "x" * 250 + " ", "中\t文", "one\ntwo\t", "", "[bold]not markup[/bold]"],
)
def test_the_cases_rich_changes_or_might_match_too(plain: str, monkeypatch: pytest.MonkeyPatch) -> None:
    expected, got = _both(Text(plain), False, monkeypatch)
    assert got == expected
