"""The walkers of raw role entries: the conditions-only walk sees exactly what the full walk sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from d2._toolkit import parse_policy_text
from d2.exceptions import ConfigurationError
from d2tools.lint._entries import permission_conditions, permissions

ROOT = Path(__file__).resolve().parents[3]
POLICIES = sorted(
    p
    for folder in (ROOT / "tests" / "fixtures", ROOT / "examples")
    for p in folder.rglob("*.y*ml")
    if ".d2test." not in p.name
)

ODD = """\
roles:
  - roles: [a, b]
    permissions:
      - plain.tool
      - {tool: t.one, conditions: {input: {x: {ne: 1}}}}
      - {tool: t.two, conditions: []}
      - {tool: t.three, conditions: {}}
      - {tool: 7, conditions: {input: {x: {ne: 1}}}}
      - {tool: t.four, allow: false, conditions: {output: {y: {not_in: [1]}}}}
      - [not, a, permission]
  - role: c
    permissions: {not: a list}
  - just a string
"""


def _expected(data: object) -> list[tuple[object, object]]:
    return [(p.path, p.conditions) for p in permissions(data) if p.conditions is not None]


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: str(p.relative_to(ROOT)))
def test_conditions_walk_matches_the_permission_walk(path: Path) -> None:
    try:
        doc = parse_policy_text(path.read_text(encoding="utf-8"), str(path))
    except ConfigurationError:  # a fixture that does not parse has no permissions to compare
        pytest.skip("does not parse")
    assert list(permission_conditions(doc.data)) == _expected(doc.data)


def test_conditions_walk_on_odd_shapes() -> None:
    data = parse_policy_text(ODD).data
    found = list(permission_conditions(data))
    assert found == _expected(data)
    assert [p for p, _ in found] == [
        ("roles", 0, "permissions", 1),
        ("roles", 0, "permissions", 3),
        ("roles", 0, "permissions", 5),
    ]
