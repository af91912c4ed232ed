"""``d2 diagnose``: discovery order, counts, expiry, limits, and a failing exit when anything is wrong."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

POLICY = """\
metadata:
  name: shop
  expires: "2999-01-01T00:00:00Z"
  tool_groups:
    billing: [billing.read, billing.refund]
    exfil: [web.post]
  data_flow:
    labels:
      billing.read: [pii]
    blocks:
      pii: ["@exfil"]
policies:
  - role: admin
    permissions: ["*"]
  - role: support
    permissions: ["@billing", weather.lookup, web.post]
    sequence:
      - deny: [billing.read, web.post]
  - roles: [support, auditor]
    permissions: [audit.read]
"""


def _diagnose_json(cli, *args: str) -> tuple[int, dict]:
    result = cli("diagnose", "--format", "json", *args)
    return result.code, json.loads(result.out)


def test_reports_counts_expiry_and_limits(cli, write_policy) -> None:
    path = write_policy(POLICY)
    code, doc = _diagnose_json(cli, "--policy", str(path))
    assert code == 0 and doc["ok"] is True
    assert doc["counts"] == {
        "roles": 3,
        "tools": 5,
        "groups": 2,
        "grants": 5,
        "sequence_rules": 1,
        "data_flow_rules": 2,
    }
    assert doc["policy"]["name"] == "shop" and doc["policy"]["found_via"] == "argument"
    assert doc["expires"].startswith("2999-01-01")
    assert (
        doc["limits"]["size_bytes"] == path.stat().st_size and doc["limits"]["max_bytes"] == 16 * 1024 * 1024
    )


def test_discovery_order_is_the_runtimes(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    (work / "policy.yaml").write_text(POLICY, encoding="utf-8")
    assert _diagnose_json(cli)[1]["policy"]["found_via"] == "working directory"
    xdg = Path(os.environ["XDG_CONFIG_HOME"]) / "d2"
    xdg.mkdir(parents=True)
    (xdg / "policy.yaml").write_text(POLICY, encoding="utf-8")
    doc = _diagnose_json(cli)[1]
    assert doc["policy"]["found_via"] == "XDG config" and doc["policy"]["path"] == str(xdg / "policy.yaml")
    explicit = tmp_path / "explicit.yaml"
    explicit.write_text(POLICY, encoding="utf-8")
    monkeypatch.setenv("D2_POLICY_FILE", str(explicit))
    assert _diagnose_json(cli)[1]["policy"]["found_via"] == "D2_POLICY_FILE"


def test_text_output_names_the_path_and_how_it_was_found(
    cli, write_policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_policy(POLICY)
    monkeypatch.setenv("D2_POLICY_FILE", str(path))
    result = cli("diagnose")
    assert result.code == 0
    assert f"{path} (found via D2_POLICY_FILE)" in result.out
    assert "Sequence rules   1" in result.out and result.out.rstrip().endswith("OK: 0 error(s), 0 warning(s)")


def test_missing_policy_fails(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, doc = _diagnose_json(cli)
    assert code == 1 and doc["ok"] is False and "no policy file found" in doc["problems"][0]
    assert cli("diagnose").code == 1


def test_invalid_or_expired_policy_fails(cli, write_policy) -> None:
    expired = write_policy(POLICY.replace("2999-01-01", "2001-01-01"), "expired.yaml")
    code, doc = _diagnose_json(cli, "--policy", str(expired))
    assert code == 1 and [d["code"] for d in doc["diagnostics"]] == ["D2E701"]
    broken = write_policy("policies:\n  - role: a\n    permisions: []\n", "broken.yaml")
    result = cli("diagnose", "--policy", str(broken))
    assert result.code == 1 and "D2E002" in result.out and "would not load" in result.out


def test_bad_size_limit_setting_is_a_problem(cli, write_policy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("D2_MAX_POLICY_BYTES", "lots")
    code, doc = _diagnose_json(cli, "--policy", str(write_policy(POLICY)))
    assert code == 1 and any("D2_MAX_POLICY_BYTES" in p for p in doc["problems"])
