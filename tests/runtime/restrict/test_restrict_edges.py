"""Restriction edges mutation testing of ``_runtime/restrict.py`` found untested.

A refusal for a tool outside ``tools`` points at the restriction itself (line 1, column 1); a
condition on a parameter of a tool that takes none says so; a compiled restriction cannot be edited;
and a fragment holding non-JSON values is never cached under its ``repr``, so a string subclass that
prints like another tool name cannot hand its compiled parts to a later, plain fragment.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType

import pytest

import d2

POLICY = """
policies:
  - role: agent
    permissions: [bills.read, mail.send, clock.now, clock.later]
"""


@pytest.fixture
def guarded(write_policy: Callable[[str], Path]) -> dict[str, Callable[..., str]]:
    d2.configure_rbac_sync(write_policy(POLICY))
    return {
        "bills.read": d2.d2_guard("bills.read")(lambda: "bill"),
        "mail.send": d2.d2_guard("mail.send")(lambda to="x": f"mailed {to}"),
        "clock.now": d2.d2_guard("clock.now")(lambda: "noon"),
    }


def test_a_tool_outside_the_restriction_is_refused_at_the_restriction(
    guarded: dict[str, Callable[..., str]],
) -> None:
    with d2.set_user_context("u", ["agent"]), d2.restrict(tools=["bills.read"], name="narrow"):
        with pytest.raises(d2.PermissionDeniedError) as info:
            guarded["mail.send"]()
    assert info.value.location == "<restriction narrow>:1:1"
    assert info.value.reason == d2.Reason.RESTRICTION


def test_a_condition_on_a_tool_without_parameters_says_it_has_none(
    guarded: dict[str, Callable[..., str]],
) -> None:
    # The tool is guarded only after the restriction was made, so the call itself must refuse.
    fragment = {"conditions": {"clock.later": {"input": {"zone": {"in": ["utc"]}}}}}
    with d2.set_user_context("u", ["agent"]), d2.restrict(fragment, name="tz"):
        later = d2.d2_guard("clock.later")(lambda: "noon")
        with pytest.raises(d2.PermissionDeniedError) as info:
            later()
    assert "it has no parameters" in str(info.value)


def test_a_compiled_restriction_cannot_be_edited(guarded: dict[str, Callable[..., str]]) -> None:
    with d2.set_user_context("u", ["agent"]), d2.restrict(tools=["bills.read"]) as scope:
        current = scope.current()
        assert current is not None
        with pytest.raises(dataclasses.FrozenInstanceError):
            current.tools = None


class Masked(str):
    """A tool name that prints as another one."""

    def __repr__(self) -> str:
        return "'bills.read'"


def test_a_non_json_fragment_never_lends_its_compiled_parts(guarded: dict[str, Callable[..., str]]) -> None:
    with d2.set_user_context("u", ["agent"]):
        with d2.restrict({"tools": [Masked("mail.send")]}):
            assert guarded["mail.send"]() == "mailed x"
        with d2.restrict({"tools": ["bills.read"]}):
            assert guarded["bills.read"]() == "bill"
            with pytest.raises(d2.PermissionDeniedError):
                guarded["mail.send"]()


def test_a_read_only_mapping_fragment_is_read_like_a_dict(guarded: dict[str, Callable[..., str]]) -> None:
    fragment = MappingProxyType(
        {
            "tools": ["mail.send"],
            "conditions": MappingProxyType({"mail.send": {"input": {"to": {"in": ["ops"]}}}}),
        }
    )
    with d2.set_user_context("u", ["agent"]), d2.restrict(fragment):
        assert guarded["mail.send"]("ops") == "mailed ops"
        with pytest.raises(d2.PermissionDeniedError):
            guarded["mail.send"]("everyone")


def test_a_condition_on_an_already_guarded_tool_without_parameters_is_rejected_at_once(
    guarded: dict[str, Callable[..., str]],
) -> None:
    fragment = {"conditions": {"clock.now": {"input": {"zone": {"in": ["utc"]}}}}}
    with (
        d2.set_user_context("u", ["agent"]),
        pytest.raises(d2.ConfigurationError, match="its parameters: none"),
    ):
        d2.restrict(fragment)


def test_conditions_on_an_unknown_group_are_a_configuration_error(
    guarded: dict[str, Callable[..., str]],
) -> None:
    fragment = {"conditions": {"@nowhere": {"input": {"to": {"in": ["ops"]}}}}}
    with d2.set_user_context("u", ["agent"]), pytest.raises(d2.ConfigurationError):
        d2.restrict(fragment)


def test_async_with_gives_the_live_restriction(guarded: dict[str, Callable[..., str]]) -> None:
    async def scenario() -> None:
        with d2.set_user_context("u", ["agent"]):
            async with d2.restrict(tools=["bills.read"], name="async") as live:
                assert live is not None and live.current() is not None
                with pytest.raises(d2.PermissionDeniedError):
                    guarded["mail.send"]()

    asyncio.run(scenario())


def test_a_reload_does_not_make_a_restrictions_unstarted_pattern_look_complete(
    guarded: dict[str, Callable[..., str]], write_policy: Callable[[str], Path]
) -> None:
    with d2.set_user_context("u", ["agent"]), d2.restrict(sequence=[{"deny": ["bills.read", "mail.send"]}]):
        assert guarded["clock.now"]() == "noon"
        assert guarded["clock.now"]() == "noon"
        write_policy(POLICY + "  - role: other\n    permissions: [clock.now]\n")  # same file, new content
        assert d2.get_policy_manager().reload()
        assert guarded["mail.send"]() == "mailed x"  # bills.read was never called
        assert guarded["bills.read"]() == "bill"
        with pytest.raises(d2.PermissionDeniedError):
            guarded["mail.send"]()


def test_an_empty_condition_restricts_nothing_and_only_input_conditions_exist(
    guarded: dict[str, Callable[..., str]],
) -> None:
    with d2.set_user_context("u", ["agent"]):
        with d2.restrict({"tools": ["mail.send"], "conditions": {"mail.send": {}}}):
            assert guarded["mail.send"]("anyone") == "mailed anyone"
        with pytest.raises(d2.ConfigurationError, match="unknown key 'output'"):
            d2.restrict({"conditions": {"mail.send": {"output": {"to": {"action": "filter"}}}}})


def test_non_string_keys_in_a_fragment_are_read_as_their_text(guarded: dict[str, Callable[..., str]]) -> None:
    with d2.set_user_context("u", ["agent"]):
        with pytest.raises(d2.ConfigurationError, match="unknown key '7' in restriction"):
            d2.restrict({"tools": ["mail.send"], 7: "x"})
        fragment = {"tools": ["mail.send"], "conditions": {"mail.send": {"input": {1: {"in": ["x"]}}}}}
        with pytest.raises(d2.ConfigurationError, match="input condition names '1'"):
            d2.restrict(fragment)


GROUPED = """
metadata:
  tool_groups:
    outbound: [{outbound}]
policies:
  - role: agent
    permissions: [bills.read, mail.send, clock.now, clock.later]
"""


def test_a_reload_that_changes_a_pattern_rebuilds_it_from_the_calls_made(
    write_policy: Callable[[str], Path],
) -> None:
    # The restriction counts each allowed call once: when a reload changes its pattern (the group
    # grew), the pattern is replayed from a history that is complete, so an unstarted pattern stays
    # unstarted instead of being taken as started (what a truncated history would force).
    d2.configure_rbac_sync(write_policy(GROUPED.format(outbound="mail.send")))
    send = d2.d2_guard("mail.send")(lambda to="x": f"mailed {to}")
    read = d2.d2_guard("bills.read")(lambda: "bill")
    now = d2.d2_guard("clock.now")(lambda: "noon")
    with d2.set_user_context("u", ["agent"]), d2.restrict(sequence=[{"deny": ["bills.read", "@outbound"]}]):
        assert now() == "noon"
        assert now() == "noon"
        write_policy(GROUPED.format(outbound="mail.send, clock.later"))
        assert d2.get_policy_manager().reload()
        assert send() == "mailed x"  # bills.read was never called
        assert read() == "bill"
        with pytest.raises(d2.PermissionDeniedError):
            send()
