"""Proxy overhead per ``tools/call``: the same calls direct to an MCP server and through ``d2 mcp-proxy``.

Both paths use the ``mcp`` package's client over stdio against ``examples/mcp/crm_server.py``, in one
run, with blocks interleaved (direct, proxied, direct, ...) so machine load hits both alike. Two tools:
``read_notes`` (a plain grant) and ``lookup_customer`` (an input condition plus output redaction).
Prints p50/p90/p99 per path in ms, the p50 overhead (goal: <= 1 ms), and the CPU time the proxy
process spent per call (Linux), which machine load does not inflate the way it inflates wall time.

A second table isolates the proxy's own work (identity, request state, the guard, result conversion)
from the extra process hop: the proxy's ``tools/call`` handler runs in-process against the server
connected in-process, and the time spent upstream is subtracted. Run:
``python bench/mcp_proxy.py [--calls 1000] [--era legacy|auto] [--state-url redis://127.0.0.1:6379/0]``
(the last keeps the proxy's session histories on Redis: one atomic round trip per call).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters

ROOT = Path(__file__).resolve().parents[1]
CRM = [str(ROOT / "examples" / "mcp" / "crm_server.py")]
POLICY = ROOT / "examples" / "mcp" / "policy.yaml"
CALLS = {
    "read_notes (plain grant)": ("read_notes", {"customer_id": "C002"}),
    "lookup_customer (input + output rules)": ("lookup_customer", {"customer_id": "C001"}),
}


def direct(mode: str) -> Client:
    return Client(
        StdioServerParameters(command=sys.executable, args=CRM, cwd=str(ROOT)), mode=mode, cache=None
    )


def proxied(mode: str, state_url: str | None = None) -> Client:
    args = ["-m", "d2tools.mcp", "--policy", str(POLICY), "--name", "crm", "--user", "bench", "--role",
            "support", "--", sys.executable, *CRM]  # fmt: skip
    env = (
        {"D2_SILENT": "1"}
        | ({"D2_STATE_URL": state_url} if state_url else {})
        | ({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {})
    )
    params = StdioServerParameters(command=sys.executable, args=args, cwd=str(ROOT), env=env)
    return Client(params, mode=mode, cache=None)


async def timed(client: Client, name: str, args: dict[str, Any], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        result = await client.call_tool(name, args)
        samples.append((time.perf_counter() - start) * 1000)
        if result.is_error:
            raise SystemExit(f"{name} failed: {result.content}")
    return samples


def proxy_cpu_seconds() -> float | None:
    """CPU time (user + system) used so far by this run's proxy process (Linux /proc), else None."""
    me = str(os.getpid())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if fields[1] == me and b"d2tools.mcp" in cmdline:
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return None


def load() -> str:
    """The 1-minute load average: wall times on a shared machine mean little without it."""
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "n/a"


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(calls: int, mode: str, state_url: str | None = None, block: int = 50) -> None:
    async with direct(mode) as d, proxied(mode, state_url) as p:
        print(
            f"protocol {d.protocol_version} (direct) / {p.protocol_version} (proxied); "
            f"{calls} calls per path; proxy session state {state_url or 'in-process'}; load average {load()}"
        )
        for label, (tool, args) in CALLS.items():
            await timed(d, tool, args, 50)  # warm up both paths
            await timed(p, f"crm.{tool}", args, 50)
            direct_ms: list[float] = []
            proxy_ms: list[float] = []
            cpu = 0.0
            for _ in range(max(1, calls // block)):
                direct_ms += await timed(d, tool, args, block)
                before = proxy_cpu_seconds()
                proxy_ms += await timed(p, f"crm.{tool}", args, block)
                after = proxy_cpu_seconds()
                cpu += (after - before) if before is not None and after is not None else float("nan")
            print(f"\n{label}")
            print(f"  {'path':<10}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'mean ms':>9}")
            for name, samples in (("direct", direct_ms), ("proxied", proxy_ms)):
                cells = [pct(samples, 0.5), pct(samples, 0.9), pct(samples, 0.99), statistics.fmean(samples)]
                print(f"  {name:<10}" + "".join(f"{c:>9.3f}" for c in cells))
            over = pct(proxy_ms, 0.5) - pct(direct_ms, 0.5)
            verdict = "within" if over <= 1.0 else "OVER"
            print(f"  overhead p50: {over:.3f} ms ({verdict} the 1 ms goal); load average now {load()}")
            print(
                f"  proxy process CPU per call (SDK work on both hops + the guard): "
                f"{cpu / len(proxy_ms) * 1000:.3f} ms"
            )


async def in_process(calls: int) -> None:
    """The proxy's own work per call: time in its ``tools/call`` handler minus time spent upstream."""
    import importlib.util
    from types import SimpleNamespace

    from mcp_types import CallToolRequestParams, CallToolResult

    import d2
    from d2tools.mcp import IdentitySpec, Proxy, ProxyConfig, UpstreamSpec

    spec = importlib.util.spec_from_file_location("crm_server", CRM[0])
    assert spec is not None and spec.loader is not None
    crm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(crm)
    d2.configure_rbac_sync(POLICY, instance_name="bench")
    cfg = ProxyConfig(
        policy=str(POLICY),
        upstreams=(UpstreamSpec("crm", command=("unused",)),),
        identity=IdentitySpec("bench", ("support",)),
    )
    proxy = Proxy(cfg, instance_name="bench")
    ctx = SimpleNamespace(request=None, protocol_version="2025-11-25")
    upstream_s: list[float] = []
    async with Client(crm.server, mode="legacy", cache=None) as conn:
        upstream = proxy.upstreams[0]
        upstream._client = conn  # the in-process connection stands in for a spawned server
        upstream.tools = (await conn.list_tools()).tools
        proxy.rebuild()
        forward = upstream.call

        async def timed_forward(name: str, args: Any) -> CallToolResult:
            start = time.perf_counter()
            try:
                return await forward(name, args)
            finally:
                upstream_s.append(time.perf_counter() - start)

        upstream.call = timed_forward  # type: ignore[method-assign]
        print(f"\nproxy's own work per call (handler time minus upstream time), {calls} calls each")
        print(f"  {'tool':<40}{'p50 µs':>9}{'p90 µs':>9}{'p99 µs':>9}")
        for label, (tool, args) in CALLS.items():
            params = CallToolRequestParams(name=f"crm.{tool}", arguments=args)
            own: list[float] = []
            for _ in range(calls):
                upstream_s.clear()
                start = time.perf_counter()
                result = await proxy.call_tool(ctx, params)
                own.append((time.perf_counter() - start - sum(upstream_s)) * 1e6)
                if result.is_error:
                    raise SystemExit(f"{tool} refused: {result.content}")
            print(f"  {label:<40}{pct(own, 0.5):>9.1f}{pct(own, 0.9):>9.1f}{pct(own, 0.99):>9.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--era", choices=["legacy", "auto"], default="auto")
    parser.add_argument("--state-url", default=None, help="session state on Redis for the proxy")
    ns = parser.parse_args()
    asyncio.run(main(ns.calls, ns.era, ns.state_url))
    asyncio.run(in_process(ns.calls))
