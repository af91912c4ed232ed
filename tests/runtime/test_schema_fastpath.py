"""The compiled validator (fast path) and jsonschema (explaining path) agree on every document.

The fast path may only ever say "valid"; a document it accepts must have no jsonschema error, and
(so the fast path is worth having) a document jsonschema accepts should be accepted by it too.
Property-based: real policies from the repository, mutated at random places into invalid ones, plus
arbitrary JSON, for the policy and the restriction schemas.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import d2
from d2._lang import fastschema
from d2._lang.schema import _validator, inlined_schema, schema_diagnostics
from d2._toolkit import SourceDoc, parse_policy_file

pytest.importorskip("jsonschema_rs")

ROOT = Path(__file__).parents[2]
SEEDS = sorted(
    p
    for p in [*ROOT.glob("tests/fixtures/policies/**/*.yaml"), *ROOT.glob("examples/*/policy.yaml")]
    if not p.name.endswith(".d2test.yaml")
)


def _load(path: Path) -> Any:
    try:
        return parse_policy_file(path).data
    except d2.ConfigurationError:
        return None


SEED_DATA = [data for data in map(_load, SEEDS) if isinstance(data, dict)]

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
KEYS = st.sampled_from(
    ["tool", "role", "roles", "permissions", "conditions", "input", "output", "in", "min", "max", "type",
     "matches", "allow", "deny", "sequence", "mode", "rules", "metadata", "policies", "x-note", "bogus"]
)  # fmt: skip


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*path, i))
    return out


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


@st.composite
def mutated_policies(draw: st.DrawFn) -> Any:
    """A real policy with up to three random edits: replace a value, drop a key, add a key, wrap."""
    doc = copy.deepcopy(draw(st.sampled_from(SEED_DATA)))
    for _ in range(draw(st.integers(0, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "drop", "add", "wrap", "retype"]))
        if not path:
            continue
        parent, last = _at(doc, path[:-1]), path[-1]
        if action == "replace":
            parent[last] = draw(JSON)
        elif action == "drop" and isinstance(parent, dict):
            del parent[last]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(KEYS)] = draw(JSON)
        elif action == "wrap":
            parent[last] = [parent[last]]
        elif action == "retype":
            value = parent[last]
            parent[last] = str(value) if not isinstance(value, str) else 1
    return doc


def _fast(name: str, data: Any) -> bool:
    return fastschema.fast_accepts(name, data, inlined_schema)


def _agree(name: str, data: Any, *, exact: bool = True) -> None:
    explained = _validator(name).is_valid(data)
    fast = _fast(name, data)
    assert not (fast and not explained), f"the fast path accepted a document jsonschema rejects: {data!r}"
    if exact:
        assert fast == explained, f"the fast path rejected a document jsonschema accepts: {data!r}"
    # And what callers see: the diagnostics are jsonschema's either way.
    diagnostics = schema_diagnostics(SourceDoc("doc.yaml", data), name)
    assert (diagnostics == []) == explained


def test_there_are_seed_policies() -> None:
    assert len(SEED_DATA) >= 5


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_policies())
def test_agree_on_mutated_policies(doc: Any) -> None:
    _agree("policy.schema.json", doc)


@settings(max_examples=100, deadline=None)
@given(JSON)
def test_agree_on_arbitrary_json(doc: Any) -> None:
    _agree("policy.schema.json", doc)
    _agree("restriction.schema.json", doc)


@settings(max_examples=100, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "tools": st.lists(st.text(max_size=8) | st.integers(), max_size=3),
            "deny": st.lists(st.text(max_size=8), max_size=3) | JSON,
            "conditions": st.dictionaries(
                st.text(max_size=8),
                st.fixed_dictionaries({"input": st.dictionaries(st.text(max_size=6), JSON, max_size=2)})
                | JSON,
                max_size=2,
            ),
            "sequence": JSON,
            "x-why": JSON,
            "bogus": JSON,
        },
    )
)
def test_agree_on_restriction_fragments(fragment: Any) -> None:
    _agree("restriction.schema.json", fragment)


def test_every_seed_policy_takes_the_fast_path() -> None:
    valid = [d for d in SEED_DATA if _validator("policy.schema.json").is_valid(d)]
    assert valid and all(_fast("policy.schema.json", d) for d in valid)


@pytest.mark.parametrize(
    "data",
    [
        {"policies": ({"role": "r", "permissions": ["t"]},)},  # a tuple: jsonschema says not an array
        {"policies": [{"role": "r", "permissions": ["t"]}], 1: "x"},  # a non-string key
        {"policies": [{"role": "r", "permissions": ["t"]}], "x-v": b"bytes"},
    ],
    ids=["tuple", "int-key", "bytes"],
)
def test_non_json_values_go_to_jsonschema(data: Any) -> None:
    assert not _fast("policy.schema.json", data)


@pytest.mark.parametrize("text", ["\ud800", "a\udfff", "\U0001f600", ""])
def test_agree_on_unusual_strings(text: str) -> None:
    # A lone surrogate may not cross into the compiled validator (jsonschema then decides alone);
    # it must never make the fast path accept what jsonschema rejects.
    _agree("policy.schema.json", {"policies": [{"role": text, "permissions": [text]}]}, exact=False)
    fragment = {"tools": [text], "conditions": {text: {"input": {"a": {"in": [text]}}}}}
    _agree("restriction.schema.json", fragment, exact=False)
    _agree("policy.schema.json", {"policies": [{"role": text, "permissions": [{"tool": 1}]}]}, exact=False)


def test_the_fast_path_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = {"policies": [{"role": "r", "permissions": ["t"]}]}
    fastschema._compiled.cache_clear()
    monkeypatch.setenv("D2_SCHEMA_FAST", "0")
    try:
        assert not _fast("policy.schema.json", doc)
        assert schema_diagnostics(SourceDoc("p.yaml", doc)) == []
    finally:
        fastschema._compiled.cache_clear()


def test_a_rejected_document_is_explained() -> None:
    doc = {"policies": [{"role": "r", "permisions": ["t"]}]}
    assert not _fast("policy.schema.json", doc)
    (diag, *_) = schema_diagnostics(SourceDoc("p.yaml", doc))
    assert diag.code == "D2E002" and "permisions" in diag.message and "permissions" in (diag.hint or "")
