"""Telemetry is opt-in, carries no argument values, and can pseudonymise user ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import d2
from d2._runtime import events as _events
from d2._runtime import telemetry as _telemetry


@pytest.fixture(autouse=True)
def _no_installed_sinks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_telemetry, "_INSTALLED", [])


POLICY = "policies:\n  - role: r\n    permissions: [tel.echo]\n"


def test_default_is_off_and_nothing_is_subscribed(write_policy) -> None:  # type: ignore[no-untyped-def]
    """The vendor shipped telemetry on by default, with raw arguments and user ids."""
    d2.configure_rbac_sync(write_policy(POLICY))
    assert _telemetry.telemetry_mode() == "off"
    assert _events.SINKS == []


def test_unknown_mode_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("D2_TELEMETRY", "everything")
    with pytest.raises(d2.ConfigurationError, match="D2_TELEMETRY"):
        _telemetry.telemetry_mode()


def test_decision_log_has_no_arguments_and_hashes_user_ids(write_policy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d2.configure_rbac_sync(write_policy(POLICY))

    @d2.d2_guard("tel.echo")
    def echo(secret: str) -> str:
        return secret

    log = _telemetry.JsonlDecisionLog(tmp_path / "decisions.jsonl", hash_user_ids=True, salt="s").install()
    try:
        with d2.set_user_context("alice@example.com", ["r"]):
            echo("hunter2-password")
        assert d2.flush_events()
    finally:
        log.uninstall()
    text = (tmp_path / "decisions.jsonl").read_text()
    assert "hunter2" not in text and "alice@example.com" not in text
    record = json.loads(text)
    assert record["user_id"] == _telemetry.hash_user_id("alice@example.com", "s")
    assert record["tool_id"] == "tel.echo" and record["allowed"] is True


def test_otel_metrics_carry_no_user_ids(write_policy) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("opentelemetry.sdk.metrics")
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    d2.configure_rbac_sync(write_policy(POLICY))

    @d2.d2_guard("tel.echo", on_deny=None)
    def echo(secret: str) -> str:
        return secret

    sink = _telemetry.OtelMetricsSink(provider).install()
    try:
        with d2.set_user_context("alice", ["r"]):
            echo("x")
        with d2.set_user_context("bob", ["other"]):
            echo("y")
        assert d2.flush_events()
    finally:
        d2.remove_decision_sink(sink)
    data = reader.get_metrics_data()
    points = [
        dp
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "d2.decisions"
        for dp in m.data.data_points
    ]
    reasons = sorted(dict(p.attributes)["reason"] for p in points)
    assert reasons == ["allowed", "rbac"]
    for p in points:
        assert "alice" not in str(p.attributes) and "bob" not in str(p.attributes)
    provider.shutdown()


def test_metrics_mode_installs_the_otel_sink(write_policy, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("opentelemetry")
    monkeypatch.setenv("D2_TELEMETRY", "metrics")
    d2.configure_rbac_sync(write_policy(POLICY))
    try:
        assert any(isinstance(s, _telemetry.OtelMetricsSink) for s in _events.SINKS)
    finally:
        for sink in list(_events.SINKS):
            d2.remove_decision_sink(sink)
