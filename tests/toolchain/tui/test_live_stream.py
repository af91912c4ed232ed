"""10,000 decisions a second from a running app into the TUI: nothing lost, the UI stays responsive.

The app is a separate process (as in production): it guards a function with the real guard, serves
its decisions with ``d2.serve_decision_stream`` and calls the function 10,000 times in one second.
The TUI subscribes with ``--stream``; the test then checks the counters against what was sent and
that the event loop never stalled while the flood was applied.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from d2tools.tui.live.view import TABLE_ROWS

from .conftest import SIZE

TOTAL = 10_000
TOOLS = ("billing.read", "billing.refund", "http.post", "users.delete", "weather.lookup")

_APP = """
import json, sys, time
import d2

policy, address, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
d2.configure_rbac_sync(policy)
stream = d2.serve_decision_stream(address)
tools = ("billing.read", "billing.refund", "http.post", "users.delete", "weather.lookup")
calls = [d2.d2_guard(t, on_deny=None)(lambda: "ok") for t in tools]
print("ready", flush=True)
while stream.subscribers < 1:
    time.sleep(0.01)
sys.stdin.readline()  # "go": the test is watching
start = time.perf_counter()
with d2.set_user_context("ana", ["support"]):
    for i in range(total):
        calls[i % len(calls)]()
        if i % 10 == 9:  # paced: 10 calls per millisecond
            ahead = start + (i + 1) / total - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
seconds = time.perf_counter() - start
d2.flush_events(10)
from d2._runtime.events import dropped_events
print(json.dumps({"seconds": seconds, "dropped": dropped_events()}), flush=True)
sys.stdin.read()  # keep serving until the test is done
stream.stop()
"""


def _expected(policy_text: str) -> dict[str, list[int]]:
    assert "support" in policy_text
    allowed = {"billing.read", "billing.refund"}  # support's grants among TOOLS (weather.lookup too)
    allowed.add("weather.lookup")
    out = {t: [0, 0] for t in TOOLS}
    for i in range(TOTAL):
        tool = TOOLS[i % len(TOOLS)]
        out[tool][0 if tool in allowed else 1] += 1
    return out


async def test_ten_thousand_decisions_per_second(make_app: Callable[..., Any], tmp_path: Path) -> None:
    from .conftest import POLICY

    address = f"unix:{tmp_path / 'live.sock'}"
    child = subprocess.Popen(
        [sys.executable, "-c", _APP, str(POLICY), address, str(TOTAL)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    gaps: list[float] = []
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        app = make_app(streams=(address,), start_sources=True)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3")
            last = [time.monotonic()]

            def probe() -> None:  # how long the event loop went without running a timer
                now = time.monotonic()
                gaps.append(now - last[0])
                last[0] = now

            app.set_interval(0.05, probe)
            feed = app.session.feed
            deadline = time.monotonic() + 10
            while "connected" not in " ".join(feed.snapshot().sources):
                assert time.monotonic() < deadline, "the TUI never subscribed"
                await pilot.pause(0.05)
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
            sent = time.monotonic()
            keys_during_flood = 0
            deadline = sent + 30
            while feed.snapshot().total < TOTAL:
                assert time.monotonic() < deadline, f"only {feed.snapshot().total} of {TOTAL} arrived"
                if 0 < feed.snapshot().total < TOTAL:
                    await pilot.press("p", "p")  # keys keep working during the flood
                    keys_during_flood += 1
                await pilot.pause(0.05)
            arrived = time.monotonic() - sent
            await pilot.pause(0.6)  # one more tick applies the last batch
            snap = feed.snapshot()
            table_rows = app.query_one("#live-table").row_count
            stats = str(app.query_one("#live-stats").render())
        report = json.loads(child.stdout.readline())
    finally:
        if child.stdin is not None:
            child.stdin.close()
        child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
    print(
        f"\n{TOTAL} decisions sent in {report['seconds']:.2f} s, all shown after {arrived:.2f} s, "
        f"longest event-loop gap {max(gaps) * 1000:.0f} ms, {keys_during_flood} key rounds during the flood"
    )
    assert report["dropped"] == 0, "the app's own event queue dropped decisions"
    assert report["seconds"] < 5.0, f"the app needed {report['seconds']:.2f} s to make {TOTAL} calls"
    assert snap.total == TOTAL and snap.lost == 0 and snap.malformed == 0
    expected = _expected(POLICY.read_text())
    assert {t: list(v) for t, v in snap.per_tool.items()} == expected
    assert snap.refused == sum(v[1] for v in expected.values())
    assert table_rows == TABLE_ROWS  # bounded, however many arrive
    assert f"{TOTAL:,} decisions" in stats
    assert keys_during_flood > 0 and gaps and max(gaps) < 1.0, f"the UI froze for {max(gaps):.2f} s"
    assert arrived < report["seconds"] + 5.0, f"the TUI fell {arrived - report['seconds']:.1f} s behind"
