"""The seed's data-flow scenarios: blanket egress blocking, LLM tainting, pivots, accumulating labels."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

import d2

if TYPE_CHECKING:
    from conftest import Seq

EGRESS = ["http.request", "slack.post", "email.send", "webhook.call"]


def test_sensitive_read_blocks_every_egress_tool(flow: Seq) -> None:
    flow.load_fixture("seed.yaml")
    with d2.set_user_context("agent-1", ["researcher"]):
        assert d2.get_facts() == frozenset()
        assert flow.call("database.read")
        assert d2.get_facts() == {"SENSITIVE"}
        assert flow.call("analytics.summarize")  # internal processing: no label blocks it
        assert d2.get_facts() == {"SENSITIVE"}
        assert [flow.call(tool) for tool in EGRESS] == [False] * 4
    assert {e.reason for e in flow.errors} == {"data_flow"}


@pytest.mark.parametrize("tool", EGRESS)
def test_egress_is_fine_without_sensitive_data(flow: Seq, tool: str) -> None:
    flow.load_fixture("seed.yaml")
    assert flow.play(["analytics.summarize", tool, "database.read"], ["researcher"]) == [True, True, True]


def test_llm_output_cannot_reach_code_execution(flow: Seq) -> None:
    flow.load_fixture("seed.yaml")
    calls = ["shell.execute", "llm.generate", "code.eval", "shell.execute", "subprocess.run", "http.request"]
    assert flow.play(calls, ["researcher"]) == [True, True, False, False, False, True]


def test_pivot_to_another_channel_passes_a_sequence_rule_alone(flow: Seq) -> None:
    flow.load_fixture("pivot_sequence_only.yaml")
    calls = ["database.read", "http.request", "slack.post", "email.send"]
    assert flow.play(calls, ["researcher"]) == [True, False, True, True]


def test_pivot_to_another_channel_is_stopped_by_a_label(flow: Seq) -> None:
    flow.load_fixture("pivot_with_labels.yaml")
    calls = ["database.read", "http.request", "slack.post", "email.send"]
    assert flow.play(calls, ["researcher"]) == [True, False, False, False]
    # The sequence rule is checked first, so the direct leak names the rule; the pivots name the label.
    assert [e.reason for e in flow.errors] == ["sequence_violation", "data_flow", "data_flow"]


def test_labels_accumulate(flow: Seq) -> None:
    flow.load_fixture("seed.yaml")
    with d2.set_user_context("agent", ["researcher"]):
        assert flow.call("logging.info")
        assert flow.call("payment.process")
        assert d2.get_facts() == {"PCI_DATA", "SENSITIVE"}
        assert not flow.call("logging.info")  # PCI_DATA
        assert flow.call("llm.generate") and flow.call("secrets.get")
        assert d2.get_facts() == {"PCI_DATA", "SENSITIVE", "LLM_OUTPUT", "SECRET"}
        assert d2.has_fact("SECRET") and d2.has_any_fact(["HIPAA", "PCI_DATA"])
        assert not d2.has_any_fact(["HIPAA", "GDPR"])


def test_labels_end_with_the_request(flow: Seq) -> None:
    flow.load_fixture("seed.yaml")
    assert flow.play(["database.read"], ["researcher"]) == [True]
    assert d2.get_facts() == frozenset()
    assert flow.play(["http.request"], ["researcher"]) == [True]


def test_labels_bind_every_role_including_wildcard_admins(flow: Seq) -> None:
    """Labels describe data, not people: an admin holding sensitive data cannot post it either."""
    flow.load_fixture("seed.yaml")
    assert flow.play(["database.read", "http.request"], ["admin"]) == [True, False]
    assert flow.last_error.reason == "data_flow"


def test_hand_set_label_blocks_too(flow: Seq) -> None:
    flow.load_fixture("seed.yaml")
    with d2.set_user_context("agent", ["researcher"]):
        assert flow.call("shell.execute")
        d2.record_fact("UNTRUSTED")
        assert not flow.call("shell.execute")
    detail = flow.last_error.detail or ""
    assert "label 'UNTRUSTED'" in detail and "record_fact()" in detail


def test_refusal_names_the_label_its_source_and_the_block(flow: Seq) -> None:
    path = flow.load_fixture("seed.yaml")
    assert flow.play(["analytics.summarize", "secrets.get", "logging.info"], ["researcher"]) == [
        True,
        True,
        False,
    ]
    err = flow.last_error
    assert err.reason == d2.Reason.DATA_FLOW and err.tool_id == "logging.info"
    assert err.location == f"{path}:17:33"
    assert err.detail == (
        "data-flow label 'SECRET' blocks this tool; the label was added by secrets.get (call 2); "
        "request labels: SECRET, SENSITIVE"
    )
    assert err.value == "SECRET"
    assert flow.play(["database.read", "slack.post"], ["researcher"]) == [True, False]
    assert "blocks this tool (listed via @egress_tools)" in (flow.last_error.detail or "")
