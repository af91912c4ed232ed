"""Output field paths, pinned where mutation testing of ``_lang/paths.py`` found gaps.

A path whose ``**`` is followed by a wildcard is a load error that names the wildcard (never a crash
while building the message); and a compiled presence rule cannot be edited.
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import d2
from d2._base.diagnostics import Location
from d2._lang.paths import Presence


@pytest.mark.parametrize(("path", "follower"), [("**.*", "*"), ("**.**", "**"), ("a.**.*", "*")])
def test_a_wildcard_after_any_depth_is_a_load_error_naming_it(
    write_policy: Callable[[str], Path], path: str, follower: str
) -> None:
    policy = f"""
    policies:
      - role: r
        permissions:
          - tool: t
            conditions:
              output:
                "{path}": {{action: filter}}
    """
    with pytest.raises(d2.ConfigurationError) as info:
        d2.configure_rbac_sync(write_policy(textwrap.dedent(policy)))
    text = str(info.value) + "".join(str(d) for d in info.value.diagnostics)
    assert f"is followed by '{follower}'" in text


def test_a_presence_rule_cannot_be_edited() -> None:
    presence = Presence("output_validation", Location("p.yaml", 1, 1), "is required but missing")
    with pytest.raises(dataclasses.FrozenInstanceError):
        presence.reason = "other"  # type: ignore[misc]


def test_a_part_shared_twice_is_filtered_in_both_places(write_policy: Callable[[str], Path]) -> None:
    policy = """
    policies:
      - role: r
        permissions:
          - tool: rows.any
            conditions:
              output:
                "**.ssn": {action: filter}
    """
    d2.configure_rbac_sync(write_policy(textwrap.dedent(policy)))
    row = {"name": "a", "ssn": "123-45-6789"}
    tool = d2.d2_guard("rows.any")(lambda: {"rows": [row, row], "again": row})
    with d2.set_user_context("u", ["r"]):
        result = tool()
    assert result == {"rows": [{"name": "a"}, {"name": "a"}], "again": {"name": "a"}}
    assert row == {"name": "a", "ssn": "123-45-6789"}  # the tool's own value is never changed
