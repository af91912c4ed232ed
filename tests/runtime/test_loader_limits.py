"""The loader refuses YAML that costs far more than its size: alias bombs and deep nesting.

Issue 11 item 18: a 368-byte document took ~10 s and 600 MB in every loader. These tests build the
bombs and require a quick, clear ConfigurationError (D2E001 with line:col and a fix), in the runtime
loader and in ``d2 lint``; ordinary anchors, merge keys and JSON keep working.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import d2
from d2._toolkit import parse_policy_text

# Nine levels of nine-fold aliases: 9**9 (387 million) strings once expanded, 368 bytes as text.
BOMB = '# a billion laughs: 368 B\na: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{name}: &{name} [{','.join(['*' + prev] * 9)}]\n"
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
)


def _refusal(text: str) -> d2.ConfigurationError:
    start = time.perf_counter()
    with pytest.raises(d2.ConfigurationError) as info:
        parse_policy_text(text, "bomb.yaml")
    assert time.perf_counter() - start < 2.0, "the loader spent seconds before refusing"
    return info.value


def test_the_bomb_is_small() -> None:
    assert len(BOMB.encode()) == 368


def test_alias_bomb_is_refused_fast_with_a_clear_error() -> None:
    exc = _refusal(BOMB)
    (diag,) = exc.diagnostics
    assert diag.code == "D2E001" and diag.file == "bomb.yaml" and diag.line >= 1
    assert "alias" in diag.message and diag.hint
    assert "bomb.yaml" in str(exc)


def test_alias_bomb_as_policy_file_and_lint(tmp_path: Path) -> None:
    from d2tools.lint import lint_file

    path = tmp_path / "policy.yaml"
    path.write_text(
        "policies:\n  - role: r\n    permissions: [t]\nx-bomb:\n" + _indent(BOMB), encoding="utf-8"
    )
    with pytest.raises(d2.ConfigurationError, match="alias"):
        d2.load_policy_file(path)
    start = time.perf_counter()
    result = lint_file(path)
    assert time.perf_counter() - start < 2.0
    assert [d.code for d in result.diagnostics] == ["D2E001"]
    assert "alias" in result.diagnostics[0].message


def _indent(text: str) -> str:
    return "".join(f"  {line}\n" for line in text.splitlines())


@pytest.mark.parametrize(
    "text",
    [
        "[" * 20_000 + "]" * 20_000,  # flow: quadratic in libyaml's scanner, a C-stack crash deeper
        "- " * 20_000 + "x\n",  # block sequences on one line
        "".join(" " * i + "k:\n" for i in range(150)) + " " * 150 + "v\n",  # indented mappings
        '{"a": ' * 500 + "1" + "}" * 500,  # JSON
    ],
    ids=["flow", "block-sequence", "block-mapping", "json"],
)
def test_deep_nesting_is_refused_before_it_is_parsed(text: str) -> None:
    exc = _refusal(text)
    (diag,) = exc.diagnostics
    assert diag.code == "D2E001" and "deeper than 100 levels" in diag.message
    assert diag.line >= 1 and diag.col >= 1 and diag.hint


def test_aliases_that_nest_beyond_the_limit_are_refused() -> None:
    # Each alias is one level deeper than the one it names: shallow text, a 3,000-level structure.
    chain = "a0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 3000))
    exc = _refusal(chain)
    assert "deeper than 100 levels" in exc.diagnostics[0].message


def test_nesting_at_the_limit_still_loads() -> None:
    doc = parse_policy_text("[" * 99 + "]" * 99)
    depth, node = 0, doc.data
    while isinstance(node, list):
        depth += 1
        node = node[0] if node else None
    assert depth == 99


def test_ordinary_anchors_and_merge_keys_still_load(write_policy) -> None:  # type: ignore[no-untyped-def]
    text = (
        "x-limits: &limits\n"
        "  amount: {type: int, max: 100}\n"
        "policies:\n"
        "  - role: a\n"
        "    permissions:\n"
        "      - tool: pay\n"
        "        conditions:\n"
        "          input:\n"
        "            <<: *limits\n"
        "            note: {maxLength: 5}\n"
        "  - role: b\n"
        "    permissions:\n"
        "      - tool: pay\n"
        "        conditions: {input: *limits}\n"
    )
    policy = d2.load_policy_file(write_policy(text))
    assert sorted(g.input.params for gs in policy.grants["pay"].values() for g in gs) == [  # type: ignore[union-attr]
        frozenset({"amount"}),
        frozenset({"amount", "note"}),
    ]
    doc = parse_policy_text(text)
    assert doc.key_pos[("policies", 0, "permissions", 0, "conditions", "input", "note")] == (10, 13)


def test_many_aliases_of_a_small_anchor_are_fine() -> None:
    # Aliases are legitimate: expansion up to the text's own size plus a margin is accepted.
    text = "base: &b {type: int}\n" + "".join(f"k{i}: *b\n" for i in range(3000))
    doc = parse_policy_text(text)
    assert doc.data["k2999"] == {"type": "int"}
