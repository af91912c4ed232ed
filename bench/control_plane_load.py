"""Load test of the control plane: N simulated SDK pollers against one server on loopback.

    python bench/control_plane_load.py                 # 1,000 pollers, 30 s, SQLite
    python bench/control_plane_load.py --db postgresql://postgres@127.0.0.1:5432/test

Each poller keeps one HTTP/1.1 keep-alive connection and polls ``GET /v1/policy/bundle`` every
``--interval`` seconds (+/-10% jitter, as the SDK does) with ``If-None-Match``; a publisher pushes a
new version of one app every ``--publish-every`` seconds, so some polls download a fresh bundle.
Reports throughput, latency percentiles and the 304 ratio. Traffic stays on 127.0.0.1; the run is
bounded in time and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from d2tools.server import admin  # noqa: E402

POLICY = "policies:\n  - role: r{n}\n    permissions: [tool.a]\n"


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    codes: dict[int, int] = field(default_factory=dict)
    errors: int = 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def poller(port: int, token: str, interval: float, stop: float, stats: Stats) -> None:
    """One simulated SDK: a keep-alive connection, conditional GETs, jittered sleeps."""
    await asyncio.sleep(random.uniform(0, interval))
    etag = ""
    reader = writer = None
    while time.monotonic() < stop:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            request = (
                f"GET /v1/policy/bundle HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                + (f"If-None-Match: {etag}\r\n" if etag else "")
                + "\r\n"
            )
            started = time.perf_counter()
            writer.write(request.encode())
            status, headers = await read_response(reader)
            stats.latencies.append(time.perf_counter() - started)
            stats.codes[status] = stats.codes.get(status, 0) + 1
            etag = headers.get("etag", etag) if status in (200, 304) else etag
        except (OSError, asyncio.IncompleteReadError, ValueError):
            stats.errors += 1
            writer = None
        await asyncio.sleep(interval * random.uniform(0.9, 1.1))
    if writer is not None:
        writer.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    length = int(headers.get("content-length", "0"))
    if length:
        await reader.readexactly(length)
    return status, headers


def publisher(url: str, apps: list[tuple[str, str, str]], every: float, stop: float) -> int:
    """Publish a new version of a random app every ``every`` seconds; return how many were published."""
    count = 0
    with httpx.Client(base_url=url, timeout=10) as client:
        while time.monotonic() + every < stop:
            time.sleep(every)
            _, _, dev = random.choice(apps)
            auth = {"Authorization": f"Bearer {dev}"}
            head = client.get("/v1/status", headers=auth).json()["head"]
            r = client.post(
                "/v1/policy/publish",
                json={"policy": POLICY.format(n=count + 100)},
                headers={**auth, "If-Match": head["etag"]},
            )
            count += r.status_code == 201
    return count


async def run_load(
    port: int, apps: list[tuple[str, str, str]], args: argparse.Namespace
) -> tuple[Stats, int]:
    stats = Stats()
    stop = time.monotonic() + args.duration
    tasks = [
        asyncio.create_task(poller(port, apps[i % len(apps)][1], args.interval, stop, stats))
        for i in range(args.pollers)
    ]
    published = asyncio.to_thread(publisher, f"http://127.0.0.1:{port}", apps, args.publish_every, stop)
    results = await asyncio.gather(published, *tasks)
    return stats, int(results[0])


def setup(db: str, schema: str | None, n_apps: int) -> list[tuple[str, str, str]]:
    admin.init_storage(db, schema)
    apps = []
    for i in range(n_apps):
        name = f"load-{i}-{secrets.token_hex(3)}"
        admin.create_app_named(db, name, schema)
        apps.append(
            (name, admin.issue(db, "runtime", name, schema), admin.issue(db, "developer", name, schema))
        )
    return apps


def report(stats: Stats, published: int, args: argparse.Namespace, backend: str) -> None:
    lat = sorted(stats.latencies)
    total = len(lat)
    q = statistics.quantiles(lat, n=1000) if total > 1 else [0.0] * 999
    ratio = stats.codes.get(304, 0) / total if total else 0.0
    print(f"backend            {backend}")
    print(f"pollers            {args.pollers} (interval {args.interval}s +/-10%, {args.duration}s)")
    print(f"requests           {total} ({total / args.duration:.0f}/s), errors {stats.errors}")
    print(f"status codes       {dict(sorted(stats.codes.items()))}")
    print(f"publishes          {published}")
    print(
        f"latency ms         p50 {q[499] * 1e3:.2f}  p95 {q[949] * 1e3:.2f}  p99 {q[989] * 1e3:.2f}  "
        f"max {lat[-1] * 1e3 if lat else 0:.2f}"
    )
    print(f"304 ratio          {ratio:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pollers", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--apps", type=int, default=10)
    parser.add_argument("--publish-every", type=float, default=5.0)
    parser.add_argument("--db", default=None, help="postgresql://... (default: SQLite in a temp dir)")
    args = parser.parse_args()
    args.duration = min(args.duration, 120.0)  # bounded, whatever is asked
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or str(Path(tmp) / "load.db")
        schema = f"d2load_{secrets.token_hex(4)}" if db.startswith("postgres") else None
        apps = setup(db, schema, args.apps)
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        cmd = [
            sys.executable,
            "-m",
            "d2tools.server",
            "serve",
            "--db",
            db,
            "--port",
            str(port),
            *(["--schema", schema] if schema else []),
        ]
        server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
                    break
                except httpx.HTTPError:
                    time.sleep(0.05)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
                for _, _, dev in apps:
                    client.post(
                        "/v1/policy/publish",
                        json={"policy": POLICY.format(n=0)},
                        headers={"Authorization": f"Bearer {dev}", "If-None-Match": "*"},
                    )
            stats, published = asyncio.run(run_load(port, apps, args))
        finally:
            server.terminate()
            server.wait(timeout=10)
            if schema:
                from d2tools.server.postgres import PostgresStorage

                PostgresStorage(db, schema=schema).drop_schema()
        report(stats, published, args, "postgresql" if schema else "sqlite")


if __name__ == "__main__":
    main()
