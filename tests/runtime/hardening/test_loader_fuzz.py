"""Fuzz the policy loader: mutated policy files give a policy or a D2Error, never a crash, hang or allow.

A short run is part of the default suite; ``-m slow`` runs the same property far longer. Inputs start
from the repository's fixture policies and are mangled: ranges deleted, duplicated or truncated, YAML
syntax (anchors, aliases, merge keys, tags, flow collections, directives) and awkward values (lone
surrogates, huge integers, NaN, deep nesting) inserted.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import d2

FIXTURES = sorted((Path(__file__).parents[2] / "fixtures" / "policies").rglob("*.yaml"))
SEEDS = [p.read_text(encoding="utf-8") for p in FIXTURES] or [
    "policies:\n  - role: r\n    permissions: [t]\n"
]
TOKENS = [
    "{", "}", "[", "]", ": ", "- ", "\n", "\n  ", "\t", "&a ", "*a", "<<: *a", "!!python/object:os.system ",
    "!!binary ", "? ", "---\n", "...\n", "%YAML 1.1\n", "#", '"', "'", "\\", "\ud800", "\x00", "\ufeff",
    "99999999999999999999999999999999", "1e999", ".nan", ".inf", "~", "null", "yes", "0x1F", "@", "*",
    "tool: '*'", "allow: false", "conditions:", "input:", "output:", "sequence:", "$attr", "2001-01-01",
]  # fmt: skip
SECONDS_PER_LOAD = 5.0


@st.composite
def mangled(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        n = len(text)
        i = draw(st.integers(0, n))
        j = draw(st.integers(i, min(n, i + 40)))
        action = draw(st.sampled_from(["delete", "duplicate", "insert", "truncate", "nest"]))
        if action == "delete":
            text = text[:i] + text[j:]
        elif action == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        elif action == "insert":
            text = text[:i] + draw(st.sampled_from(TOKENS)) + text[i:]
        elif action == "truncate":
            text = text[:i]
        else:
            depth = draw(st.integers(1, 300))
            text = text[:i] + "[" * depth + "x" + "]" * depth + text[i:]
    return text


def _check_one(tmp: Path, text: str) -> None:
    path = tmp / "policy.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    started = time.thread_time()  # CPU time: a busy CI machine must not fail the test, a blow-up must
    try:
        policy = d2.load_policy_file(path)
    except d2.D2Error:
        policy = None
    elapsed = time.thread_time() - started
    assert elapsed < SECONDS_PER_LOAD, f"loading took {elapsed:.1f} s of CPU"
    if policy is None:
        return
    # A file that loads is a real policy: installing it keeps every promise of a loaded policy.
    assert policy.source == str(path)
    assert all(isinstance(t, str) and t for t in policy.known_tools)


def _fuzz(tmp_path_factory: pytest.TempPathFactory, examples: int) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(text=mangled())
    def run(text: str) -> None:
        _check_one(tmp, text)

    run()


def test_loader_fuzz_short(tmp_path_factory: pytest.TempPathFactory) -> None:
    _fuzz(tmp_path_factory, 150)


@pytest.mark.slow
def test_loader_fuzz_long(tmp_path_factory: pytest.TempPathFactory) -> None:
    _fuzz(tmp_path_factory, 5000)


def test_a_refused_file_leaves_no_policy_and_calls_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("policies:\n  - role: r\n    permissions: [t\n", encoding="utf-8")
    with pytest.raises(d2.ConfigurationError):
        d2.configure_rbac_sync(path)
    tool = d2.d2_guard("t")(lambda: "ran")
    with d2.set_user_context("u", ["r"]), pytest.raises(d2.MissingPolicyError):
        tool()
