"""``d2 init --mcp``: list an MCP server's tools and write a starter policy and starter scenarios.

The server's own annotations do the first sorting: tools marked ``readOnlyHint`` go to a
``<server>_read`` group a reader role gets; the rest go to an operator role only. Each tool's input
schema becomes suggested input conditions, in comments, for the author to tighten and uncomment.
The server's prompts and resource reads (governed by the proxy as ``<server>.prompts.<name>`` and
``<server>.resources.read``) are suggested as commented grants: they are granted to nobody until the
author decides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from mcp_types import Prompt, Tool

from ._config import UpstreamSpec
from ._upstream import Upstream, UpstreamUnavailable

__all__ = ["Discovered", "McpStarter", "discover", "starter_for"]

_BARE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TYPES = {"string": "string", "integer": "int", "number": "float", "boolean": "bool", "array": "list",
          "object": "dict"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class McpStarter:
    """The starter files for one server."""

    server: str
    policy: str
    scenarios: str
    tool_ids: tuple[str, ...]
    # The policy's roles, the narrowest first (the reader, when the server marks any tool read-only).
    roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Discovered:
    """What a server offers: its tools, its prompts, and whether it serves resources."""

    tools: list[Tool]
    prompts: list[Prompt]
    resources: bool


async def _discover(spec: UpstreamSpec) -> Discovered:
    upstream = Upstream(spec)
    failure: UpstreamUnavailable | None = None
    async with anyio.create_task_group() as tg:
        try:
            await upstream.start(tg)
        except UpstreamUnavailable as exc:  # raised below, outside the task group (no exception group)
            failure = exc
        await upstream.aclose()
        tg.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return Discovered(list(upstream.tools), list(upstream.prompts), upstream.serves_resources)


def discover(spec: UpstreamSpec) -> Discovered:
    """Start (or reach) the server, list its tools and prompts, and stop it again."""
    return anyio.run(_discover, spec)


def _suggest(schema: Mapping[str, Any] | None) -> list[str]:
    """Suggested input conditions, one YAML line per parameter, from a JSON Schema ``properties``."""
    if not isinstance(schema, Mapping):
        return []
    props = schema.get("properties")
    if not isinstance(props, Mapping):
        return []
    listed = schema.get("required")
    required = {r for r in listed if isinstance(r, str)} if isinstance(listed, list) else set()
    lines = []
    for name, prop in props.items():
        if not isinstance(prop, Mapping):
            continue
        ops: dict[str, Any] = {}
        kind = prop.get("type")
        if isinstance(kind, str) and kind in _TYPES:
            ops["type"] = _TYPES[kind]
        if isinstance(prop.get("enum"), list):
            ops["in"] = prop["enum"]
        for src, dst in (("minimum", "min"), ("maximum", "max"), ("minLength", "minLength"),
                         ("maxLength", "maxLength"), ("pattern", "matches")):  # fmt: skip
            if src in prop:
                ops[dst] = prop[src]
        if name in required:
            ops["required"] = True
        if not ops:
            continue
        body = ", ".join(f"{k}: {v if k == 'type' else json.dumps(v)}" for k, v in ops.items())
        key = name if _BARE.fullmatch(name) else json.dumps(name)
        lines.append(f"{key}: {{{body}}}")
    return lines


_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_YAML_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "null", "y", "n"})


def _q(text: str) -> str:
    """A server-chosen name as a YAML scalar: bare when it is a plain identifier, else JSON-quoted, so
    no name can add lines or structure to the policy (a tool named ``"x\n  - role: pwned"`` stays one
    string: a grant of a tool that does not exist)."""
    if _PLAIN.fullmatch(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text)


def _read_only(tool: Tool) -> bool:
    return bool(tool.annotations is not None and tool.annotations.read_only_hint)


def _other_kinds(server: str, tool_id: str, prompts: Sequence[Prompt], resources: bool) -> list[str]:
    """Commented grants for the server's prompts and resource reads (the proxy governs both)."""
    out: list[str] = []
    if prompts:
        out.append("      # Prompts (prompts/get); arguments take input conditions. Uncomment to grant:")
        out += [f"      # - {_q(tool_id.format(server=server, tool='prompts.' + p.name))}" for p in prompts]
    if resources:
        reads = tool_id.format(server=server, tool="resources.read")
        out += ["      # Resource reads (resources/read), one argument: uri. Uncomment and narrow it:",
                f"      # - tool: {_q(reads)}", "      #   conditions:", "      #     input:",
                '      #       uri: {startsWith: "scheme://allowed/prefix/"}']  # fmt: skip
    return out


def _policy(server: str, tools: list[Tool], ids: dict[str, str], source: str) -> str:
    reads = [ids[t.name] for t in tools if _read_only(t)]
    out = [
        f"# Starter policy for the MCP server '{server}' ({json.dumps(source)[1:-1]}), written by "
        "`d2 init --mcp`.",
        "# Review every grant, tighten the suggested conditions, then run `d2 lint` and `d2 test`.",
        "metadata:",
        f"  name: {json.dumps(server)}",
    ]
    if reads:
        out += ["  tool_groups:", "    # Tools the server marks read-only (readOnlyHint).",
                f"    {server}_read: [{', '.join(_q(r) for r in reads)}]"]  # fmt: skip
    out += ["", "policies:"]
    if reads:
        out += [f"  - role: {server}_reader", "    permissions:", f'      - "@{server}_read"', ""]
    out += [f"  - role: {server}_operator", "    permissions:"]
    for tool in tools:
        suggestions = _suggest(tool.input_schema)
        if not suggestions:
            out.append(f"      - {_q(ids[tool.name])}")
            continue
        out += [f"      - tool: {_q(ids[tool.name])}",
                "        # Suggested from the input schema; uncomment and tighten:",
                "        # conditions:", "        #   input:"]  # fmt: skip
        out += [f"        #     {line}" for line in suggestions]
    return "\n".join(out) + "\n"


def starter_for(
    server: str,
    tools: list[Tool],
    *,
    source: str,
    policy_ref: str = "../policy.yaml",
    tool_id: str = "{server}.{tool}",
    prompts: Sequence[Prompt] = (),
    resources: bool = False,
) -> McpStarter:
    """Build the starter policy and scenarios for ``server``'s ``tools`` (and its prompts and resources)."""
    from d2tools.testing import starter_scenario

    ids = {t.name: tool_id.format(server=server, tool=t.name) for t in tools}
    reads = [ids[t.name] for t in tools if _read_only(t)]
    writes = [ids[t.name] for t in tools if not _read_only(t)]
    grants: dict[str, list[str]] = {f"{server}_operator": list(ids.values())}
    if reads:
        grants[f"{server}_reader"] = reads
    scenarios = starter_scenario(list(ids.values()), policy_ref, grants=grants)
    if reads and writes:
        scenarios += "\n".join([
            f"  # A reader may not write: an edit that hands {server}_reader a write tool fails here.",
            f'  - name: "{server}_reader may not call {{tool}}"',
            f"    roles: [{server}_reader]",
            "    steps:",
            '      - call: "{tool}"',
            "        expect: {deny: rbac}",
            "    where:",
            "      columns: [tool]",
            "      rows:",
            *(f"        - [{json.dumps(t)}]" for t in writes),
        ]) + "\n"  # fmt: skip
    policy = _policy(server, tools, ids, source)
    others = _other_kinds(server, tool_id, prompts, resources)  # after the operator's grants: the last role
    if others:
        policy += "\n".join(others) + "\n"
    roles = (f"{server}_reader", f"{server}_operator") if reads else (f"{server}_operator",)
    return McpStarter(server, policy, scenarios, tuple(ids.values()), roles)
