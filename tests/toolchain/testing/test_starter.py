"""``starter_scenario`` (what ``d2 init`` writes) loads and passes against any policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from d2tools.testing import load_scenario_text, run, starter_scenario

from .conftest import RBAC_POLICY, Writer

POLICIES = [
    RBAC_POLICY,
    "policies:\n  - role: admin\n    permissions: ['*']\n",
    "policies:\n  - role: nobody\n    permissions: []\n",
]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize(
    "tools",
    [["billing.read", "billing.refund"], ["database:read_users", 'weird id: with "quotes" and #hash'], []],
)
def test_starter_passes_against_any_policy(project: Writer, policy: str, tools: list[str]) -> None:
    project("policy.yaml", policy)
    project("scenarios/starter.d2test.yaml", starter_scenario(tools, "../policy.yaml"))
    result = run(["scenarios"])
    assert result.ok, (result.problems, [c.failure for c in result.cases])
    assert result.passed == max(len(tools), 1)


def test_starter_without_a_policy_path_uses_discovery(project: Writer) -> None:
    project("policy.yaml", RBAC_POLICY)
    text = starter_scenario(["billing.read"], "")
    assert "policy:" not in text.split("cases:")[0].replace("policy scenarios", "")
    project("starter.d2test.yaml", text)
    assert run(["starter.d2test.yaml"]).ok


def test_starter_text_is_stable(project: Writer, tmp_path: Path) -> None:
    project("policy.yaml", RBAC_POLICY)
    text = starter_scenario(["b.two", "a.one", "a.one"], "../policy.yaml")
    loaded = load_scenario_text(text, "starter.d2test.yaml", base=tmp_path / "scenarios")
    assert loaded.diagnostics == ()
    assert loaded.scenario is not None
    assert [c.name for c in loaded.scenario.cases] == [
        "no role, no access: a.one",
        "no role, no access: b.two",
    ]
    assert "# - name: a viewer reads but may not change anything" in text
    assert '#     - call: "a.one"' in text
