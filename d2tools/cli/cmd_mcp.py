"""``d2 mcp-proxy``: put a d2 policy in front of any MCP server (the ``mcp`` extra).

The ``mcp`` package is imported only when the command runs, so ``d2 --help`` stays fast and works
without the extra installed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._common import EXIT_FINDINGS, usage_error

if TYPE_CHECKING:
    from d2tools.mcp._config import AuthSpec, IdentitySpec

__all__ = ["mcp_proxy", "register"]

_HELP = """Run a policy-enforcing MCP proxy in front of one or more MCP servers.

Tools are exposed as `server.tool`; tools/list shows only what the caller may call, and every
tools/call runs the whole policy. A refusal is an MCP tool error naming its reason code.
See docs/mcp.md.

Examples:

    d2 mcp-proxy --policy policy.yaml --name time --user me --role support -- uvx mcp-server-time

    d2 mcp-proxy --config examples/mcp/proxy.yaml

    d2 mcp-proxy --config proxy.yaml --listen 127.0.0.1:8765   # bearer tokens per its auth: section
"""


def register(app: typer.Typer) -> None:
    """Add ``d2 mcp-proxy`` to the app."""
    app.command("mcp-proxy", help=_HELP)(mcp_proxy)


def _attrs(pairs: list[str]) -> dict[str, Any]:
    import json

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            usage_error(f"--attr {pair!r} is not KEY=VALUE", param_hint="--attr")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def _identity(
    base: IdentitySpec, user: str | None, role: list[str] | None, attr: list[str] | None
) -> IdentitySpec:
    """The config's ``identity:`` with the flags laid over it, key by key (docs: flags override)."""
    from d2tools.mcp._config import IdentitySpec

    return IdentitySpec(
        user if user is not None else base.user,
        tuple(role) if role else base.roles,
        {**base.attributes, **_attrs(attr or [])},
    )


def _auth(
    base: AuthSpec | None, jwks: str | None, issuer: str | None, audience: str | None, roles_claim: str | None
) -> AuthSpec:
    """The config's ``auth:`` with any of --jwks/--issuer/--audience/--roles-claim laid over it."""
    import dataclasses

    from d2tools.mcp._config import AuthSpec

    if base is None:
        if not (jwks and issuer and audience):
            what = "--roles-claim applies to bearer-token auth, which" if roles_claim else "bearer-token auth"
            usage_error(
                f"{what} needs --jwks, --issuer and --audience together (or an 'auth:' section in --config)"
            )
        return AuthSpec(jwks=jwks, issuer=issuer, audience=audience, roles_claim=roles_claim or "roles")
    return dataclasses.replace(
        base,
        jwks=jwks or base.jwks,
        issuer=issuer or base.issuer,
        audience=audience or base.audience,
        roles_claim=roles_claim or base.roles_claim,
    )


def default_name(command: list[str]) -> str:
    """A server name from its command: ``uvx mcp-server-time`` → ``time``, ``python crm.py`` → ``crm``."""
    import re

    words = [w for w in command if not w.startswith("-")]
    word = Path(words[-1] if words else "server").stem
    word = re.sub(r"^(mcp[-_]server[-_]|server[-_])|([-_]mcp)?[-_]server$", "", word) or "server"
    word = re.sub(r"[^A-Za-z0-9_-]", "_", word)
    return word if word[:1].isalpha() else f"s{word}"


def mcp_proxy(
    command: Annotated[
        list[str] | None, typer.Argument(metavar="[-- COMMAND...]", help="Start the upstream server (stdio).")
    ] = None,
    policy: Annotated[Path | None, typer.Option("--policy", metavar="FILE", help="Policy file.")] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", metavar="FILE", help="Proxy config (upstreams, identity, auth)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Server name (tool-id prefix) of the upstream given here.")
    ] = None,
    upstream: Annotated[
        str | None, typer.Option("--upstream", metavar="URL", help="Upstream over streamable HTTP.")
    ] = None,
    listen: Annotated[
        str | None, typer.Option("--listen", metavar="HOST:PORT", help="Serve streamable HTTP, not stdio.")
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="Caller's user id (stdio).")] = None,
    role: Annotated[
        list[str] | None, typer.Option("--role", help="Caller's role (stdio); repeatable.")
    ] = None,
    attr: Annotated[
        list[str] | None, typer.Option("--attr", metavar="KEY=VALUE", help="Caller attribute; repeatable.")
    ] = None,
    jwks: Annotated[
        str | None, typer.Option("--jwks", metavar="URL|FILE", help="JWKS for bearer tokens.")
    ] = None,
    issuer: Annotated[str | None, typer.Option("--issuer", help="Required token 'iss'.")] = None,
    audience: Annotated[str | None, typer.Option("--audience", help="Required token 'aud'.")] = None,
    roles_claim: Annotated[
        str | None,
        typer.Option("--roles-claim", help="Claim path of the roles.  [default: roles]", show_default=False),
    ] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="HTTP without tokens: every caller is the configured identity.")
    ] = False,
    tool_id: Annotated[str | None, typer.Option("--tool-id", help="Tool id format.")] = None,
    decision_log: Annotated[
        Path | None, typer.Option("--decision-log", metavar="FILE", help="Append decision events (JSONL).")
    ] = None,
) -> None:
    """Run the proxy until the client disconnects (stdio) or the process is stopped (HTTP)."""
    try:
        from d2tools.mcp import run_proxy
        from d2tools.mcp._config import (
            IdentitySpec,
            ProxyConfig,
            UpstreamSpec,
            load_config,
            parse_listen,
        )
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        usage_error(f"d2 mcp-proxy needs the 'mcp' extra: pip install 'd2-guard[mcp]' ({exc})")
    from d2 import ConfigurationError, MissingPolicyError
    from d2.exceptions import PolicyError

    try:
        values: dict[str, Any] = load_config(config) if config else {"upstreams": ()}
        ups = list(values.get("upstreams", ()))
        if command or upstream:
            if command and upstream:
                usage_error("give either a command after '--' or --upstream URL, not both")
            label = name or (default_name(command) if command else "server")
            ups.append(UpstreamSpec(label, command=tuple(command or ()), url=upstream, cwd=str(Path.cwd())))
        values["upstreams"] = tuple(ups)
        if policy:
            values["policy"] = str(policy)
        if listen:
            values["listen"] = parse_listen(listen)
        if tool_id:
            values["tool_id"] = tool_id
        if decision_log:
            values["decision_log"] = str(decision_log)
        if user is not None or role or attr:
            values["identity"] = _identity(values.get("identity") or IdentitySpec(), user, role, attr)
        if jwks or issuer or audience or roles_claim:
            values["auth"] = _auth(values.get("auth"), jwks, issuer, audience, roles_claim)
        cfg = ProxyConfig(policy=values.pop("policy", None), **values)
        if cfg.listen is not None and cfg.auth is None and not no_auth:
            usage_error(
                "an HTTP proxy needs bearer-token auth (--jwks/--issuer/--audience or 'auth:' in --config); "
                "pass --no-auth to serve every caller as the configured identity"
            )
        try:
            code = run_proxy(cfg)
        except MissingPolicyError as exc:
            how = (
                "give --policy (or 'policy:' in --config) an existing policy file; "
                "`d2 init --mcp -- COMMAND` writes a starter one"
                if cfg.policy
                else "or pass --policy FILE (or 'policy:' in --config)"
            )
            print(f"d2 mcp-proxy: {exc}; {how}", file=sys.stderr)
            raise typer.Exit(EXIT_FINDINGS) from None
    except (ConfigurationError, PolicyError) as exc:
        # The library's messages start "mcp-proxy: " (for embedders); the CLI prefix says it already.
        print(f"d2 mcp-proxy: {str(exc).removeprefix('mcp-proxy: ')}", file=sys.stderr)
        raise typer.Exit(EXIT_FINDINGS) from None
    if code:
        raise typer.Exit(code)


def init_mcp(
    command: list[str],
    url: str | None,
    *,
    name: str | None,
    output: Path,
    force: bool,
    stdout: bool,
    scenarios: bool = True,
) -> None:
    """``d2 init --mcp``: list the server's tools, write a starter policy and starter scenarios.

    ``name`` (``--name``) is the server's name, the tool-id prefix; by default it comes from the command.
    ``--force`` replaces the policy only: an existing scenario file holds the author's cases and is kept.
    """
    import shlex

    from ._common import EXIT_OK, emit, make_console

    if bool(command) == bool(url):
        usage_error("d2 init --mcp needs the server's command after '--', or --mcp-url URL (one of them)")
    try:
        from d2tools.mcp import UpstreamSpec, UpstreamUnavailable
        from d2tools.mcp._starter import discover, starter_for
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        usage_error(f"d2 init --mcp needs the 'mcp' extra: pip install 'd2-guard[mcp]' ({exc})")
    err = make_console(stderr=True)
    server = name or (default_name(command) if command else "server")
    scenario_file = output.parent / "scenarios" / f"{server}.d2test.yaml"
    if not stdout and output.exists() and not force:
        err.print(f"d2 init: {output} already exists; pass --force to overwrite it", markup=False)
        raise typer.Exit(EXIT_FINDINGS)
    spec = UpstreamSpec(server, command=tuple(command), url=url, cwd=str(Path.cwd()))
    try:
        found = discover(spec)
    except UpstreamUnavailable as exc:
        err.print(f"d2 init --mcp: {exc}; check the command or URL", markup=False)
        raise typer.Exit(EXIT_FINDINGS) from None
    source = shlex.join(command) if command else str(url)
    tools = found.tools
    starter = starter_for(
        server,
        tools,
        source=source,
        policy_ref=f"../{output.name}",
        prompts=found.prompts,
        resources=found.resources,
    )
    if stdout:
        emit(starter.policy)
        raise typer.Exit(EXIT_OK)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(starter.policy, encoding="utf-8")
    wrote = f"Wrote {output} ({len(tools)} tool(s) of MCP server '{server}')"
    if scenario_file.exists():
        wrote += f"; kept the existing {scenario_file} (scenarios are yours: never overwritten)"
    elif scenarios:
        scenario_file.parent.mkdir(parents=True, exist_ok=True)
        scenario_file.write_text(starter.scenarios, encoding="utf-8")
        wrote += f" and {scenario_file}"
    test = f" && d2 test {shlex.quote(str(scenario_file.parent))}" if scenario_file.exists() else ""
    upstream = f"--upstream {shlex.quote(url)}" if url else f"-- {source}"
    err.print(
        f"{wrote}. Review the grants, then: d2 lint {shlex.quote(str(output))}{test} && "
        f"d2 mcp-proxy --policy {shlex.quote(str(output))} --name {server} --user YOU "
        f"--role {starter.roles[0]} {upstream}",
        markup=False,
    )
    raise typer.Exit(EXIT_OK)
