"""The regex layer's fast path into google-re2 agrees with the binding's public API (issue 11 item 23).

d2 calls RE2's matcher below the binding's public API for speed. That is safe only while the private
names keep their meaning, so the dependency is pinned to a minor series and checked here, and d2
falls back to the public API (``D2_RE2_PUBLIC=1`` forces it) when the first-use self-check fails.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]
from hypothesis import strategies as st

from d2._lang import regex as regex_mod

PATTERNS = [
    r"\d{3}-\d{2}-\d{4}", r"(?i)drop\s+table", r"[a-z]+@example\.com", r"é+", r"^a|b$", r"(ab)+c",
    r"\bsecret\b", r"[^\x00-\x7f]", r"x*y", r"(?s)a.b", r"\Aq", r"q\z",
]  # fmt: skip
texts = st.lists(
    st.sampled_from([*"abcxyq-19éß \n\t", "\ud800", "drop  TABLE", "123-45-6789", "secret"]), max_size=12
).map("".join)


def _public(pattern: str) -> regex_mod.Regex:
    return regex_mod.compile_regex(pattern, public=True)


def _fast(pattern: str) -> regex_mod.Regex:
    return regex_mod.compile_regex(pattern, public=False)


@settings(max_examples=300, deadline=None)
@given(index=st.integers(0, len(PATTERNS) - 1), text=texts)
def test_fast_path_and_public_api_agree(index: int, text: str) -> None:
    pattern = PATTERNS[index]
    fast, public = _fast(pattern), _public(pattern)
    assert fast.search(text) == public.search(text)
    assert fast.fullmatch(text) == public.fullmatch(text)
    assert fast.sub(text, "[R]") == public.sub(text, "[R]")


def test_the_self_check_passes_on_the_installed_binding() -> None:
    assert regex_mod.fast_path_ok() is True


def test_the_dependency_is_pinned_to_the_checked_series() -> None:
    version = importlib.metadata.version("google-re2")
    major, minor = (int(p) for p in version.split(".")[:2])
    assert (major, minor) == (1, 1), (
        f"google-re2 {version}: re-check d2/_lang/regex.py's fast path, then re-pin"
    )
    project = tomllib.loads((Path(__file__).parents[3] / "pyproject.toml").read_text(encoding="utf-8"))
    pin = next(r for r in project["project"]["dependencies"] if r.startswith("google-re2"))
    assert "<1.2" in pin.replace(" ", ""), pin


def test_public_mode_can_be_forced_by_environment() -> None:
    code = "import d2._lang.regex as r; r.compile_regex(r'\\d+x'); print(r.fast_path_ok())"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"D2_RE2_PUBLIC": "1", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"
