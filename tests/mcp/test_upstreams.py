"""Several upstreams under one proxy: third-party servers from PyPI (stdio) and the CRM over HTTP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import POLICY, refusal, stdio_client, text

pytest.importorskip("mcp_server_time")
pytest.importorskip("mcp_server_git")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git[:3], "init", "-q"], check=True)
    (path / "README").write_text("hello\n")
    subprocess.run([*git, "add", "README"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first"], check=True)
    return path


def config(tmp_path: Path, crm_url: str, repo: Path, identity: str) -> Path:
    py = sys.executable
    file = tmp_path / "proxy.yaml"
    file.write_text(
        f"""
policy: {POLICY}
upstreams:
  - name: crm
    url: {crm_url}
    headers: {{X-Request-Source: d2-tests}}
  - name: time
    command: [{py}, -m, mcp_server_time]
  - name: git
    command: [{py}, -m, mcp_server_git, --repository, {repo}]
identity:
{identity}
""",
        encoding="utf-8",
    )
    return file


async def test_three_upstreams_with_prefixes_one_policy(tmp_path: Path, crm_http: str, repo: Path) -> None:
    cfg = config(tmp_path, crm_http, repo, "  user: agent-1\n  roles: [support]")
    async with stdio_client("--config", str(cfg)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"time.get_current_time", "git.git_status", "git.git_log", "crm.read_notes"} <= names
        # Not granted, so not listed: the write half of mcp-server-git and time.convert_time.
        assert not names & {"git.git_commit", "git.git_add", "git.git_reset", "time.convert_time"}

        now = await client.call_tool("time.get_current_time", {"timezone": "UTC"})
        assert not now.is_error and now.structured_content is not None
        assert now.structured_content["timezone"] == "UTC"

        status = await client.call_tool("git.git_status", {"repo_path": str(repo)})
        assert not status.is_error and "branch" in text(status).lower()

        commit = await client.call_tool("git.git_commit", {"repo_path": str(repo), "message": "x"})
        assert refusal(commit)["reason"] == "unknown_tool"
        convert = {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}
        assert refusal(await client.call_tool("time.convert_time", convert))["reason"] == "unknown_tool"

        # One session spans every upstream: the CRM (over HTTP) sequence still applies.
        assert not (await client.call_tool("crm.read_notes", {"customer_id": "C001"})).is_error
        assert refusal(await client.call_tool("crm.export_customers", {}))["reason"] == "sequence_violation"
