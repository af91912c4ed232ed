"""The starter policy loads for any tool ids, and says where each tool is guarded."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from d2._base.diagnostics import Severity
from d2._lang.compiler import compile_policy
from d2._lang.source import parse_policy_text
from d2tools.cli._starter import Starter
from d2tools.scanner import FindingCode, GuardedTool, IdSource, ScanFinding

_IDS = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),
    min_size=1,
    max_size=30,
).filter(lambda s: s != "*" and not s.startswith("@") and s.strip() == s)


def _tool(tool_id: str, line: int) -> GuardedTool:
    return GuardedTool(tool_id, IdSource.EXPLICIT, "pkg/m.py", line, 1, "pkg.m", f"f{line}", False, ())


@settings(max_examples=60, deadline=None)
@given(st.lists(_IDS, min_size=0, max_size=6, unique=True))
def test_any_ids_round_trip_through_yaml_and_json(ids: list[str]) -> None:
    tools = {tool_id: (_tool(tool_id, i + 1),) for i, tool_id in enumerate(sorted(ids))}
    finding = ScanFinding(
        FindingCode.DYNAMIC_TOOL_ID, "computed # at: run time", Severity.WARNING, "x.py", 3, 4
    )
    starter = Starter("n: a #me", tools, (finding,), 2)
    for text, name in ((starter.to_yaml(), "p.yaml"), (starter.to_json(), "p.json")):
        result = compile_policy(parse_policy_text(text, name))
        assert result.policy is not None, [d.render() for d in result.errors]
        assert result.policy.tools_for("developer") == frozenset(ids)
        assert result.policy.name == "n: a #me"
    if ids:
        assert json.loads(starter.to_json())["policies"][1]["x-sources"][ids[0]].startswith("pkg/m.py:")


def test_several_sites_of_one_id_are_counted() -> None:
    starter = Starter("app", {"a.b": (_tool("a.b", 3), _tool("a.b", 9))}, (), 1)
    assert '- "a.b"  # pkg/m.py:3 (+1 more)' in starter.to_yaml()
