"""``d2 mcp-proxy`` and ``d2 init --mcp`` as a user drives them: flags over a config file, the errors a
wrong setup prints, the files init keeps, the next step it prints, and tokens whose user is no string.

Every proxy here is the real CLI in its own process, in front of ``examples/mcp/crm_server.py``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from d2tools.cli.app import run

from .conftest import (
    AUDIENCE,
    CRM,
    HEADERS,
    INIT,
    ISSUER,
    POLICY,
    ROOT,
    Issuer,
    free_port,
    http_client,
    spawn,
    stdio_client,
    stop,
)

SUPPORT_TOOLS = {"crm.read_notes", "crm.export_customers", "crm.lookup_customer"}


def d2_cli(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``d2 ARGS`` in its own process, stdin closed (a stdio proxy that starts ends at once)."""
    base = {k: v for k, v in os.environ.items() if k != "D2_POLICY_FILE"} | {"D2_SILENT": "1"}
    return subprocess.run(
        [sys.executable, "-c", "import sys; from d2tools.cli.app import run; sys.exit(run())", *args],
        cwd=cwd,
        env=base | (env or {}),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write_config(tmp_path: Path, issuer: Issuer, *, identity: bool = True, **auth: str) -> Path:
    """A proxy config like the docs' example: the CRM upstream, an identity and an auth section."""
    lines = [
        f"policy: {POLICY}",
        "upstreams:",
        "  - name: crm",
        f"    command: [{', '.join(repr(c) for c in CRM)}]",
    ]
    if identity:
        lines += ["identity:", "  user: agent-1", "  roles: [support]", "  attributes: {tenant: acme}"]
    section = {"jwks": str(issuer.jwks), "issuer": ISSUER, "audience": AUDIENCE} | auth
    lines += ["auth:", *(f"  {k}: {v!r}" for k, v in section.items())]
    path = tmp_path / "proxy.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def tools_of(*args: str) -> set[str]:
    """The tools a stdio proxy started with ARGS lists; each must also answer a call that is allowed."""
    async with stdio_client(*args, mode="legacy") as client:
        names = {t.name for t in (await client.list_tools()).tools}
        if "crm.lookup_customer" in names:
            ok = await client.call_tool("crm.lookup_customer", {"customer_id": "C001"})
            assert not ok.is_error, ok
    return names


# -- A1: flags beside --config override key by key --------------------------------------------------


async def test_role_flag_replaces_only_the_roles_of_the_config_identity(
    tmp_path: Path, issuer: Issuer
) -> None:
    config = write_config(tmp_path, issuer)
    # The user (agent-1) stays; the auditor may only look customers up.
    assert await tools_of("--config", str(config), "--role", "auditor") == {"crm.lookup_customer"}


async def test_attr_flag_keeps_the_config_user_and_roles(tmp_path: Path, issuer: Issuer) -> None:
    config = write_config(tmp_path, issuer)
    assert SUPPORT_TOOLS <= await tools_of("--config", str(config), "--attr", "region=eu")


async def test_user_flag_keeps_the_config_roles(tmp_path: Path, issuer: Issuer) -> None:
    config = write_config(tmp_path, issuer)
    assert SUPPORT_TOOLS <= await tools_of("--config", str(config), "--user", "bob")


def test_identity_flags_merge_attributes_flag_wins() -> None:
    from d2tools.cli.cmd_mcp import _identity
    from d2tools.mcp._config import IdentitySpec

    base = IdentitySpec("agent-1", ("support",), {"tenant": "acme", "limit": 5})
    merged = _identity(base, None, None, ["limit=9", "region=eu"])
    assert merged == IdentitySpec("agent-1", ("support",), {"tenant": "acme", "limit": 9, "region": "eu"})
    assert _identity(base, "bob", ["admin"], None).roles == ("admin",)


def test_a_stdio_proxy_needs_a_user_even_when_auth_is_configured(tmp_path: Path, issuer: Issuer) -> None:
    config = write_config(tmp_path, issuer, identity=False)
    done = d2_cli("mcp-proxy", "--config", str(config))
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("d2 mcp-proxy: name the caller"), done.stderr
    assert "'auth:' applies only over HTTP" in done.stderr


async def test_one_auth_flag_overrides_one_key_of_the_config_auth(tmp_path: Path, issuer: Issuer) -> None:
    config = write_config(tmp_path, issuer, audience="not-this-proxy")
    port = free_port()
    base = [sys.executable, "-m", "d2tools.mcp", "--config", str(config), "--listen", f"127.0.0.1:{port}"]
    proc = spawn([*base, "--audience", AUDIENCE], port)
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        good = HEADERS | {"Authorization": f"Bearer {issuer.token()}"}
        assert httpx.post(url, json=INIT, headers=good, timeout=30).status_code == 200
        stale = HEADERS | {"Authorization": f"Bearer {issuer.token(aud='not-this-proxy')}"}
        assert httpx.post(url, json=INIT, headers=stale, timeout=30).status_code == 401
    finally:
        stop(proc)


async def test_roles_claim_flag_applies_to_the_config_auth(tmp_path: Path, issuer: Issuer) -> None:
    config = write_config(tmp_path, issuer)
    port = free_port()
    args = [sys.executable, "-m", "d2tools.mcp", "--config", str(config), "--listen", f"127.0.0.1:{port}",
            "--roles-claim", "realm_access.roles"]  # fmt: skip
    proc = spawn(args, port)
    try:
        token = issuer.token(roles=["support"], realm_access={"roles": ["auditor"]})
        async with http_client(f"http://127.0.0.1:{port}/mcp", token, mode="legacy") as client:
            assert [t.name for t in (await client.list_tools()).tools] == ["crm.lookup_customer"]
    finally:
        stop(proc)


def test_roles_claim_without_any_auth_is_a_usage_error() -> None:
    done = d2_cli("mcp-proxy", "--policy", str(POLICY), "--name", "crm", "--user", "u", "--role", "support",
                  "--roles-claim", "realm_access.roles", "--", *CRM)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "--roles-claim" in done.stderr and "--jwks" in done.stderr


def test_auth_flags_without_a_config_auth_still_need_all_three() -> None:
    done = d2_cli("mcp-proxy", "--policy", str(POLICY), "--name", "crm", "--listen", "127.0.0.1:1",
                  "--issuer", ISSUER, "--", *CRM)  # fmt: skip
    assert done.returncode == 2 and "--jwks, --issuer and --audience" in done.stderr


# -- A3: a missing policy is a one-line error --------------------------------------------------------


def test_a_missing_policy_file_is_one_line_not_a_traceback() -> None:
    done = d2_cli("mcp-proxy", "--policy", "/nonexistent.yaml", "--name", "up", "--user", "u", "--role", "r",
                  "--", *CRM)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "d2 mcp-proxy: policy file /nonexistent.yaml does not exist"
    )
    assert "--policy" in lines[0]


def test_no_discovered_policy_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    done = d2_cli(
        "mcp-proxy", "--name", "up", "--user", "u", "--role", "r", "--", *CRM, cwd=tmp_path, env=env
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("d2 mcp-proxy: no policy file found"), lines
    assert "--policy FILE" in lines[0]


# -- A8: one prefix; a user claim that is no string is a 401 ----------------------------------------


def test_config_errors_have_one_prefix() -> None:
    done = d2_cli("mcp-proxy", "--policy", str(POLICY), "--name", "crm", "--", *CRM)
    assert done.returncode == 1
    assert done.stderr.startswith("d2 mcp-proxy: name the caller"), done.stderr
    assert "mcp-proxy: mcp-proxy:" not in done.stderr


@pytest.fixture(scope="module")
def uid_proxy(issuer: Issuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An HTTP proxy whose user is the token's ``uid`` claim (pyjwt checks only ``sub``'s type)."""
    config = write_config(tmp_path_factory.mktemp("uid"), issuer, identity=False, user_claim="uid")
    port = free_port()
    proc = spawn(
        [sys.executable, "-m", "d2tools.mcp", "--config", str(config), "--listen", f"127.0.0.1:{port}"], port
    )
    yield f"http://127.0.0.1:{port}/mcp"
    stop(proc)


@pytest.mark.parametrize("value", [["a", "b"], 42, {"id": "a"}, "", True], ids=repr)
def test_a_user_claim_that_is_not_a_string_is_401(uid_proxy: str, issuer: Issuer, value: Any) -> None:
    headers = HEADERS | {"Authorization": f"Bearer {issuer.token(uid=value)}"}
    response = httpx.post(uid_proxy, json=INIT, headers=headers, timeout=30)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    ok = HEADERS | {"Authorization": f"Bearer {issuer.token(uid='alice')}"}
    assert httpx.post(uid_proxy, json=INIT, headers=ok, timeout=30).status_code == 200


@pytest.mark.parametrize("value", [["a", "b"], 42, ""], ids=repr)
def test_a_sub_that_is_not_a_string_is_401(proxy_http: str, issuer: Issuer, value: Any) -> None:
    headers = HEADERS | {"Authorization": f"Bearer {issuer.token(sub=value)}"}
    assert httpx.post(proxy_http, json=INIT, headers=headers, timeout=30).status_code == 401


# -- A4 and A5: d2 init --mcp ------------------------------------------------------------------------


def test_init_mcp_force_keeps_an_existing_scenario_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policy.yaml").write_text("old\n")
    mine = tmp_path / "scenarios" / "crm.d2test.yaml"
    mine.parent.mkdir()
    mine.write_text("# my hand-written cases\n")
    assert run(["init", "--mcp", "--force", "--name", "crm", "--", *CRM]) == 0
    assert mine.read_text() == "# my hand-written cases\n"
    assert "crm.lookup_customer" in (tmp_path / "policy.yaml").read_text()
    assert f"kept the existing {Path('scenarios') / 'crm.d2test.yaml'}" in capfd.readouterr().err


def test_init_mcp_keeps_an_existing_scenario_file_without_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    mine = tmp_path / "scenarios" / "crm.d2test.yaml"
    mine.parent.mkdir()
    mine.write_text("# mine\n")
    assert run(["init", "--mcp", "--name", "crm", "--", *CRM]) == 0
    assert mine.read_text() == "# mine\n" and (tmp_path / "policy.yaml").is_file()


def test_init_mcp_honours_no_scenarios(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["init", "--mcp", "--no-scenarios", "--name", "crm", "--", *CRM]) == 0
    assert (tmp_path / "policy.yaml").is_file()
    assert not (tmp_path / "scenarios").exists()
    assert "d2 test" not in capfd.readouterr().err


def _next_step(err: str) -> list[str]:
    """The ``d2 mcp-proxy ...`` command ``d2 init --mcp`` prints as the next step, as argv."""
    text = " ".join(err.split())  # the console may wrap long lines
    step = text.split(" && ")[-1]
    argv = shlex.split(step)
    assert argv[:2] == ["d2", "mcp-proxy"], step
    return argv[2:]


def _serves(args: list[str], tool: str) -> None:
    """Run the printed command as a desktop client would and call ``tool`` through it."""
    import anyio

    async def check() -> None:
        async with stdio_client(*args, mode="legacy") as client:
            assert tool in {t.name for t in (await client.list_tools()).tools}
            assert not (await client.call_tool(tool, {"customer_id": "C001"})).is_error

    anyio.run(check)


def test_init_mcp_url_prints_a_next_step_that_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], crm_http: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert (
        run(["init", "--mcp-url", crm_http, "--name", "tickets", "--output", str(tmp_path / "t.yaml")]) == 0
    )
    args = _next_step(capfd.readouterr().err)
    assert args[-2:] == ["--upstream", crm_http] and "--" not in args
    args[args.index("YOU")] = "me"
    _serves(args, "tickets.lookup_customer")


def test_init_mcp_command_prints_a_next_step_that_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["init", "--mcp", "--name", "crm", "--output", str(tmp_path / "p.yaml"), "--", *CRM]) == 0
    args = _next_step(capfd.readouterr().err)
    assert args[args.index("--") + 1 :] == CRM
    args[args.index("YOU")] = "me"
    _serves(args, "crm.lookup_customer")


def test_the_printed_role_exists_when_no_tool_is_read_only() -> None:
    """With no ``readOnlyHint`` tool the starter has no reader role: the next step names the operator."""
    from mcp_types import Tool, ToolAnnotations

    from d2tools.mcp._starter import starter_for

    writes = [Tool(name="send", input_schema={"type": "object"})]
    assert starter_for("mail", writes, source="t").roles == ("mail_operator",)
    reads = [
        Tool(name="get", input_schema={"type": "object"}, annotations=ToolAnnotations(read_only_hint=True))
    ]
    starter = starter_for("mail", reads + writes, source="t")
    assert starter.roles == ("mail_reader", "mail_operator")
    assert all(f"- role: {r}" in starter.policy for r in starter.roles)
