"""Policy regexes: linear time on hostile input, RE2 errors explained, and the fast paths equal RE2."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

import d2
from d2._lang.regex import RegexError, compile_regex
from d2._lang.regex_simple import SHORT_TEXT, simple_fullmatch

# Classic catastrophic-backtracking patterns, each with an input that makes a backtracking engine
# explore exponentially (or polynomially) many paths.
CATASTROPHIC = [
    (r"^(a+)+$", "a" * 100_000 + "!"),
    (r"^(a|a)*$", "a" * 100_000 + "!"),
    (r"^(a|aa)+$", "a" * 100_000 + "!"),
    (r"(x+x+)+y", "x" * 100_000),
    (r"^(\w+\s?)*$", "word " * 20_000 + "!"),
    (r"^(.*a){12}$", "a" * 100_000 + "!"),
    (r"^([a-zA-Z0-9])(([\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}(([a-z]{2,3})|([a-z]{2,3}[.]{1}[a-z]{2,3}))$",
     "a" * 100_000 + "!"),
    (r"(a*)*b", "a" * 100_000),
    (r"^\d*\d*\d*\d*\d*x$", "1" * 100_000),
]  # fmt: skip


def _best_ms(call: Any, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best * 1000


@pytest.fixture
def redos_policy(write_policy: Any) -> Path:
    lines = ["policies:", "  - role: r", "    permissions:"]
    for i, (pattern, _text) in enumerate(CATASTROPHIC):
        quoted = pattern.replace("'", "''")
        lines += [
            f"      - tool: in.matches{i}",
            f"        conditions: {{input: {{text: {{matches: '{quoted}'}}}}}}",
            f"      - tool: in.not_matches{i}",
            f"        conditions: {{input: {{text: {{not_matches: '{quoted}'}}}}}}",
            f"      - tool: out.deny{i}",
            f"        conditions: {{output: {{deny_if_patterns: ['{quoted}']}}}}",
            f"      - tool: out.redact{i}",
            f"        conditions: {{output: {{text: {{action: redact, matches: '{quoted}'}}}}}}",
        ]
    path: Path = write_policy("\n".join(lines) + "\n")
    d2.configure_rbac_sync(path)
    return path


@pytest.mark.parametrize(("index", "case"), list(enumerate(CATASTROPHIC)), ids=[p for p, _ in CATASTROPHIC])
def test_catastrophic_patterns_decide_in_under_10ms_on_100kb(
    redos_policy: Path, index: int, case: Any
) -> None:
    _pattern, text = case
    assert len(text) >= 100_000
    calls = [
        d2.d2_guard(f"in.matches{index}", on_deny="denied")(lambda text: "ran"),
        d2.d2_guard(f"in.not_matches{index}", on_deny="denied")(lambda text: "ran"),
        d2.d2_guard(f"out.deny{index}", on_deny="denied")(lambda: {"text": text}),
        d2.d2_guard(f"out.redact{index}", on_deny="denied")(lambda: {"text": text}),
    ]
    with d2.set_user_context("u", ["r"]):
        for i, guarded in enumerate(calls):
            elapsed = _best_ms(lambda g=guarded, i=i: g(text) if i < 2 else g())
            assert elapsed < 10, f"decision {i} took {elapsed:.1f} ms"


def test_python_re_would_have_hung_on_a_short_input() -> None:
    """The guard above is meaningful: the same pattern backtracks exponentially in stdlib re."""
    start = time.perf_counter()
    re.fullmatch(r"^(a+)+$", "a" * 22 + "!")
    assert time.perf_counter() - start > 0.01


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("(?=x)a", "lookaround"),
        ("(?<!x)a", "lookaround"),
        (r"(a)\1", "backreference"),
        ("(?P<n>a)(?P=n)", "backreference"),
        ("a++", "possessive"),
        ("(?>a)", "atomic"),
        (r"a\Z", r"'\Z'"),
        ("(?(1)a|b)", "conditional"),
        ("[z-a]", "invalid regex"),
        ("(", "invalid regex"),
    ],
)
def test_unsupported_patterns_are_refused_with_a_reason(pattern: str, fragment: str) -> None:
    with pytest.raises(RegexError) as info:
        compile_regex(pattern)
    assert fragment in info.value.message and info.value.hint


# -- the fast paths agree with RE2 --------------------------------------------------------------------

_OPTIONS = re2.Options()
_OPTIONS.never_capture = True


def _re2_full(pattern: str, text: str) -> bool:
    return re2.compile(pattern, _OPTIONS).fullmatch(text) is not None


chars = st.sampled_from(["a", "b", "z", "_", "-", ".", "é", "\n", "0", "@", "\\", "]", "^", "$"])
atom = st.one_of(
    st.sampled_from(
        ["a", "b", "é", ".", "[a-c]", "[^a]", "[a-z_]", "[-a]", "[a-]", "\\.", "\\-", "[0-9]", "[\\]x]"]
    ),
    chars.map(lambda c: "\\" + c if c in "\\.^$-]" else c),
)
quant = st.sampled_from(["*", "+", "?", "{2}", "{1,3}", "{2,}", "*?", "+?"])


@st.composite
def subset_patterns(draw: st.DrawFn) -> str:
    atoms = draw(st.lists(atom, min_size=0, max_size=5))
    if atoms and draw(st.booleans()):
        i = draw(st.integers(0, len(atoms) - 1))
        atoms[i] += draw(quant)
    return ("^" if draw(st.booleans()) else "") + "".join(atoms) + ("$" if draw(st.booleans()) else "")


texts = st.text(st.sampled_from("abcz_-.é\n0@\\]^$x"), max_size=12)


@settings(max_examples=600, deadline=None)
@given(pattern=subset_patterns(), text=texts)
def test_the_stdlib_subset_matches_exactly_like_re2(pattern: str, text: str) -> None:
    try:
        re2.compile(pattern, _OPTIONS)
    except re2.error:
        return
    fast = simple_fullmatch(pattern)
    assert fast is not None, pattern
    assert (fast(text) is not None) == _re2_full(pattern, text)
    assert compile_regex(pattern).fullmatch(text) == _re2_full(pattern, text)


@pytest.mark.parametrize(
    "pattern",
    [r"^\d+$", "(?i)abc", "a|b", "(ab)", "a+b+", "a{,3}", r"[\w]", "[[:alpha:]]", "a$b", "[a-z-0]", "[]a]"],
)
def test_patterns_outside_the_subset_use_re2(pattern: str) -> None:
    assert simple_fullmatch(pattern) is None


def test_long_texts_go_to_re2_even_for_subset_patterns() -> None:
    rx = compile_regex("^[a-z_]+$")
    assert rx.fullmatch("a" * (SHORT_TEXT + 1)) and not rx.fullmatch("a" * SHORT_TEXT + "A")


@settings(max_examples=300, deadline=None)
@given(pattern=st.sampled_from(["ab", "a.c", "(?i)secret", "x|yz", "[0-9]{3}", "é+", "b"]), text=texts)
def test_search_and_sub_agree_with_re2(pattern: str, text: str) -> None:
    rx = compile_regex(pattern)
    compiled = re2.compile(pattern, _OPTIONS)
    assert rx.search(text) == (compiled.search(text) is not None)
    assert rx.sub(text, "#") == compiled.sub("#", text)


def test_literals_skip_the_regex_engine_with_the_same_answers() -> None:
    rx = compile_regex("admin")
    assert rx.fullmatch("admin") and not rx.fullmatch("admins")
    assert rx.search("the admin") and not rx.search("adm in")
    assert rx.sub("admin, admin", "[R]") == "[R], [R]"


def test_surrogates_and_non_ascii_do_not_break_matching() -> None:
    rx = compile_regex(r"\d{4}")
    assert rx.search("\ud800 1234") and rx.sub("x\ud8001234", "#") == "x\ud800#"
    assert compile_regex("é+").sub("aééb", "_") == "a_b"


def test_too_many_matches_redact_the_whole_value_in_bounded_time() -> None:
    from d2._lang.regex import MAX_SUBSTITUTIONS

    for pattern in (r"\d", "1"):
        rx = compile_regex(pattern)
        assert rx.sub("1" * MAX_SUBSTITUTIONS, "#") == "#" * MAX_SUBSTITUTIONS
        assert rx.sub("1" * (MAX_SUBSTITUTIONS + 1), "#") == "#"
        assert _best_ms(lambda rx=rx: rx.sub("1" * 100_000, "#")) < 10
