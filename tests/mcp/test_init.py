"""``d2 init --mcp``: a starter policy and scenarios from a real server's tool list, green out of the box."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from mcp_types import Tool, ToolAnnotations

import d2
from d2tools.cli.app import run
from d2tools.mcp._starter import starter_for
from d2tools.testing import run as run_scenarios

pytest.importorskip("mcp_server_git")


def test_init_mcp_writes_a_policy_and_passing_scenarios(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code = run(["init", "--mcp", "--", sys.executable, "-m", "mcp_server_git"])
    assert code == 0
    policy = (tmp_path / "policy.yaml").read_text()
    # mcp-server-git marks 7 of its 12 tools read-only: those form the reader's group.
    group = re.search(r"git_read: \[(.*)\]", policy)
    assert group is not None and len(group.group(1).split(", ")) == 7
    assert "git.git_commit" not in group.group(1)
    assert "#     repo_path: {type: string, required: true}" in policy
    d2.load_policy_file(tmp_path / "policy.yaml")

    result = run_scenarios([tmp_path / "scenarios"])
    assert result.ok
    names = [c.case.name for c in result.cases]
    assert "git_reader may not call git.git_commit" in names
    assert "git_operator may call git.git_commit" in names


def test_suggested_conditions_compile_once_uncommented(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "properties": {
            "repo_path": {"type": "string", "maxLength": 200},
            "max_count": {"type": "integer", "minimum": 1, "maximum": 50},
            "mode": {"type": "string", "enum": ["fast", "full"]},
            "free": {},
        },
        "required": ["repo_path"],
    }
    tools = [Tool(name="git_log", input_schema=schema, annotations=ToolAnnotations(read_only_hint=True))]
    starter = starter_for("vcs", tools, source="test")
    assert "vcs_read: [vcs.git_log]" in starter.policy
    assert "#     max_count: {type: int, min: 1, max: 50}" in starter.policy
    assert "free" not in starter.policy  # no schema hints, no suggestion
    uncommented = re.sub(r"(?m)^(\s*)# (conditions:|  input:|    \w+: \{)", r"\1\2", starter.policy)
    (tmp_path / "open.yaml").write_text(uncommented)
    policy = d2.load_policy_file(tmp_path / "open.yaml")
    d2.configure_rbac_sync(tmp_path / "open.yaml")
    with d2.set_user_context("u", ["vcs_operator"]):
        guarded = d2.d2_guard("vcs.git_log")(lambda **kw: "ok")
        assert guarded(repo_path="/r", max_count=5, mode="fast") == "ok"
        with pytest.raises(d2.PermissionDeniedError):
            guarded(repo_path="/r", max_count=500)
    assert policy.known_tools == {"vcs.git_log"}


def test_init_mcp_refuses_to_overwrite_and_reports_a_dead_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policy.yaml").write_text("mine\n")
    assert run(["init", "--mcp", "--", sys.executable, "-m", "mcp_server_git"]) == 1
    assert (tmp_path / "policy.yaml").read_text() == "mine\n"
    assert run(["init", "--mcp", "--force", "--", sys.executable, "-c", "raise SystemExit(2)"]) == 1


def test_init_mcp_url_reads_a_server_over_http(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crm_http: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["init", "--mcp-url", crm_http, "--name", "crm"]) == 0
    policy = (tmp_path / "policy.yaml").read_text()
    assert "crm_read: [crm.lookup_customer, crm.read_notes, crm.export_customers]" in policy
    # The command passes the server's prompts and resources on: suggested, commented out.
    assert "      # - crm.prompts.draft_reply" in policy and "      # - tool: crm.resources.read" in policy
    assert run_scenarios([tmp_path / "scenarios"]).ok
    assert run(["init", "--mcp-url", "http://127.0.0.1:9/mcp", "--force"]) == 1


def test_prompts_and_resource_reads_are_suggested_in_comments(tmp_path: Path, crm_http: str) -> None:
    from d2tools.mcp import UpstreamSpec
    from d2tools.mcp._starter import discover

    found = discover(UpstreamSpec("crm", url=crm_http))
    assert [p.name for p in found.prompts] == ["draft_reply"] and found.resources
    starter = starter_for("crm", found.tools, source="t", prompts=found.prompts, resources=found.resources)
    assert "      # - crm.prompts.draft_reply" in starter.policy
    assert "      # - tool: crm.resources.read" in starter.policy
    (tmp_path / "as-is.yaml").write_text(starter.policy)
    assert "crm.prompts.draft_reply" not in d2.load_policy_file(tmp_path / "as-is.yaml").known_tools
    # Uncommented, the suggestions are grants of the operator role (the last role in the file).
    opened = re.sub(r"(?m)^      # (- |  )", r"      \1", starter.policy)
    (tmp_path / "open.yaml").write_text(opened)
    known = d2.load_policy_file(tmp_path / "open.yaml").known_tools
    assert {"crm.prompts.draft_reply", "crm.resources.read"} <= set(known)
