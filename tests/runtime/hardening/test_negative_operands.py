"""A negative operator whose only operand is ``null`` keeps the rule: same type as an operand, or refused.

``ne: null`` is the documented exception (any value but ``None`` passes). ``not_in: [null]`` is not:
it passes only a value of its operands' type (null), and that value is excluded, so it refuses every
value. Found by mutation testing of ``_lang/negatives.py`` (``kind_of(None)`` returning no type made
``not_in: [null]`` pass every other value, like ``ne: null``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import d2

POLICY = r"""
policies:
  - role: r
    permissions:
      - tool: only.null
        conditions: {input: {value: {not_in: [null]}}}
      - tool: null.or.admin
        conditions: {input: {value: {not_in: [null, admin]}}}
      - tool: ne.null
        conditions: {input: {value: {ne: null}}}
"""


@pytest.fixture(autouse=True)
def _policy(load: Callable[[str], Path]) -> None:
    load(POLICY)


def _allowed(tool_id: str, value: Any) -> bool:
    tool = d2.d2_guard(tool_id)(lambda value: "ran")
    with d2.set_user_context("u", ["r"]):
        try:
            tool(value)
        except d2.PermissionDeniedError as exc:
            assert exc.reason == d2.Reason.INPUT_VALIDATION, exc
            return False
    return True


@pytest.mark.parametrize("value", ["x", 5, 2.5, False, [1], {"a": 1}, None], ids=repr)
def test_not_in_null_alone_refuses_every_value(value: Any) -> None:
    assert not _allowed("only.null", value)


def test_not_in_null_with_a_string_passes_only_other_strings() -> None:
    assert _allowed("null.or.admin", "viewer")
    for value in (None, "admin", 5, ["viewer"]):
        assert not _allowed("null.or.admin", value), value


def test_ne_null_is_the_exception() -> None:
    for value in ("x", 5, False, [None]):
        assert _allowed("ne.null", value), value
    assert not _allowed("ne.null", None)
