"""Proxy overhead per ``tools/call``: the same calls direct to an MCP server and through ``d2 mcp-proxy``.

Both paths use the ``mcp`` package's client over stdio against ``examples/mcp/crm_server.py``, in one
run. Two tools: ``read_notes`` (a plain grant) and ``lookup_customer`` (an input condition plus
output redaction). Every round runs a block of each tool on each path in turn (direct, proxied, ...;
each round starts with the next path), so machine load shifts hit every series alike. Prints
p50/p90/p99 per path in ms, the p50 overhead (goal: <= 1 ms), and the CPU time the proxy process
spent per call (Linux), which machine load does not inflate the way it inflates wall time.

``--baseline DIR`` adds a third path: a proxy run from another checkout (e.g. ``git worktree add
/tmp/base HEAD``), interleaved the same way, to compare two versions of the proxy in one run.

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
from contextlib import AsyncExitStack
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


def proxied(mode: str, state_url: str | None = None, tree: Path = ROOT) -> Client:
    """The proxy run from ``tree`` (this checkout, or ``--baseline``) in front of the same server."""
    args = ["-m", "d2tools.mcp", "--policy", str(POLICY), "--name", "crm", "--user", "bench", "--role",
            "support", "--", sys.executable, *CRM]  # fmt: skip
    path = os.pathsep.join([str(tree), *([os.environ["PYTHONPATH"]] if "PYTHONPATH" in os.environ else [])])
    env = {"D2_SILENT": "1", "PYTHONPATH": path} | ({"D2_STATE_URL": state_url} if state_url else {})
    params = StdioServerParameters(command=sys.executable, args=args, cwd=str(tree), env=env)
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


def proxy_pids() -> dict[str, int]:
    """This run's proxy processes by the checkout they run from (Linux /proc), else empty."""
    me, found = str(os.getpid()), {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
            cwd = os.readlink(stat.parent / "cwd")
        except OSError:
            continue
        if fields[1] == me and b"d2tools.mcp" in cmdline:
            found[cwd] = int(stat.parent.name)
    return found


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) a process used so far; NaN when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load() -> str:
    """The 1-minute load average: wall times on a shared machine mean little without it."""
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "n/a"


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(
    calls: int, mode: str, state_url: str | None = None, baseline: Path | None = None, block: int = 50
) -> None:
    trees = {"proxied": ROOT} | ({"baseline": baseline} if baseline is not None else {})
    async with AsyncExitStack() as stack:
        clients = {"direct": await stack.enter_async_context(direct(mode))}
        for name, tree in trees.items():
            clients[name] = await stack.enter_async_context(proxied(mode, state_url, tree))
        pids = proxy_pids()
        pid = {name: pids.get(str(tree)) for name, tree in trees.items()}
        versions = " / ".join(f"{c.protocol_version} ({n})" for n, c in clients.items())
        print(
            f"protocol {versions}; {calls} calls per path and tool, blocks of {block} interleaved; "
            f"proxy session state {state_url or 'in-process'}; load average {load()}"
        )
        if baseline is not None:
            print(f"proxied: {ROOT}; baseline: {baseline}")
        wall: dict[tuple[str, str], list[float]] = {(p, t): [] for p in clients for t in CALLS}
        cpu: dict[tuple[str, str], float] = {(p, t): 0.0 for p in trees for t in CALLS}
        for tool, args in CALLS.values():  # warm up every path
            for path, client in clients.items():
                await timed(client, tool if path == "direct" else f"crm.{tool}", args, 50)
        order = list(clients.items())
        for turn in range(max(1, calls // block)):
            for label, (tool, args) in CALLS.items():
                # Each round starts with another path, so no series always follows the same one.
                for path, client in order[turn % len(order) :] + order[: turn % len(order)]:
                    before = cpu_seconds(pid.get(path))
                    wall[path, label] += await timed(
                        client, tool if path == "direct" else f"crm.{tool}", args, block
                    )
                    if path in trees:
                        cpu[path, label] += cpu_seconds(pid.get(path)) - before
        for label in CALLS:
            print(f"\n{label}")
            print(f"  {'path':<10}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'CPU/call':>10}")
            for path in clients:
                samples = wall[path, label]
                cells = [pct(samples, 0.5), pct(samples, 0.9), pct(samples, 0.99), statistics.fmean(samples)]
                own = f"{cpu[path, label] / len(samples) * 1000:>10.3f}" if path in trees else f"{'':>10}"
                print(f"  {path:<10}" + "".join(f"{c:>9.3f}" for c in cells) + own)
            base = pct(wall["direct", label], 0.5)
            for path in trees:
                over = pct(wall[path, label], 0.5) - base
                verdict = "within" if over <= 1.0 else "OVER"
                print(f"  overhead p50 ({path}): {over:.3f} ms ({verdict} the 1 ms goal)")
        print(
            f"\nload average now {load()}; CPU/call: the proxy process's CPU time per call in ms (the SDK "
            f"on both hops + the guard)"
        )


async def in_process(calls: int) -> None:
    """The proxy's own work per call: time in its ``tools/call`` handler minus time spent upstream."""
    import importlib.util
    from types import SimpleNamespace

    from mcp_types import CallToolRequestParams

    import d2
    from d2tools.mcp import IdentitySpec, Proxy, ProxyConfig, UpstreamSpec

    spec = importlib.util.spec_from_file_location("crm_server", CRM[0])
    assert spec is not None and spec.loader is not None
    crm = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = crm  # the SDK resolves the server's annotations through sys.modules
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

        async def timed_forward(name: str, args: Any) -> dict[str, Any]:
            start = time.perf_counter()
            try:
                return await forward(name, args)
            finally:
                upstream_s.append(time.perf_counter() - start)

        upstream.call = timed_forward  # type: ignore[method-assign,assignment]
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
                if not isinstance(result, dict) or result.get("isError"):
                    raise SystemExit(f"{tool} refused: {result}")
            print(f"  {label:<40}{pct(own, 0.5):>9.1f}{pct(own, 0.9):>9.1f}{pct(own, 0.99):>9.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--era", choices=["legacy", "auto"], default="auto")
    parser.add_argument("--state-url", default=None, help="session state on Redis for the proxy")
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout's proxy, side by side")
    ns = parser.parse_args()
    asyncio.run(main(ns.calls, ns.era, ns.state_url, ns.baseline.resolve() if ns.baseline else None))
    asyncio.run(in_process(ns.calls))
