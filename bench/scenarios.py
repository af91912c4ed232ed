"""``d2 test`` throughput: scenario steps replayed per second through the real engine.

Builds a suite in a temporary directory (RBAC, input conditions, output rules, sequence rules and
data-flow labels; table rows and multi-step requests), then measures:

- replay: cases of a loaded suite replayed again and again (the engine plus expectation checks);
- end to end: ``run()`` from files (parse, schema check, table expansion, compile, replay).

Run: ``python bench/scenarios.py [--steps N]``. The target is >= 10,000 steps per second.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from d2tools.testing import prepare, run

POLICY = """
metadata:
  tool_groups:
    sensitive: [db.read, secrets.get]
    egress: [web.post, mail.send]
  data_flow:
    labels: {"@sensitive": [PII]}
    blocks: {PII: ["@egress"]}
policies:
  - role: analyst
    permissions:
      - db.read
      - analytics.summarize
      - "@egress"
      - tool: db.query
        conditions:
          input:
            limit: {type: int, min: 1, max: 100}
            table: {in: [users, orders, events]}
      - tool: crm.lookup
        conditions:
          output:
            ssn: {action: filter}
            email: {action: redact}
    sequence:
      - deny: [db.read, analytics.summarize, web.post]
  - role: admin
    permissions: ["*"]
"""

HEAD = """
policy: policy.yaml
tools:
  db.query: "(table, limit=10)"
defaults: {user: bench, roles: [analyst]}
cases:
"""

TABLE = """
  - name: "query {table} {limit} #{n}"
    steps:
      - {call: db.query, args: ["{table}", "{limit}"], expect: "{expect}"}
      - call: crm.lookup
        returns: {id: "{n}", ssn: x, email: y}
        expect: {output: {id: "{n}", email: "[REDACTED]"}}
      - {call: db.read, expect: {facts: [PII]}}
      - {call: analytics.summarize}
      - {call: web.post, expect: {deny: sequence_violation}}
    where:
      columns: [n, table, limit, expect]
      rows:
"""


def write_suite(directory: Path, steps: int) -> int:
    """Write the policy and a scenario file of about ``steps`` steps; return the exact step count."""
    (directory / "policy.yaml").write_text(POLICY, encoding="utf-8")
    rows = max(1, steps // 5)
    lines = []
    for n in range(rows):
        table = ("users", "orders", "events", "secrets")[n % 4]
        limit = (5, 50, 500)[n % 3]
        expect = "allow" if table != "secrets" and limit <= 100 else "{deny: input_validation}"
        lines.append(f"        - [{n}, {table}, {limit}, {expect}]")
    text = HEAD + TABLE + "\n".join(lines) + "\n"
    (directory / "bench.d2test.yaml").write_text(text, encoding="utf-8")
    return rows * 5


def replay_rate(directory: Path, repeat: int) -> tuple[float, int]:
    """Median steps per second replaying the loaded suite ``repeat`` times."""
    suite = prepare([directory])
    assert not suite.problems, suite.problems
    cases = [(p.replayer, c) for p in suite.files for c in p.scenario.cases]
    steps = sum(len(c.steps) for _r, c in cases)
    rates = []
    for _ in range(repeat):
        started = time.perf_counter()
        for replayer, case in cases:
            result = replayer.run_case(case)
            assert result.failure is None, result.failure
        rates.append(steps / (time.perf_counter() - started))
    return statistics.median(rates), steps


def end_to_end(directory: Path, repeat: int) -> tuple[float, float]:
    """Median steps per second and seconds of ``run()`` from files."""
    times = []
    steps = 0
    for _ in range(repeat):
        started = time.perf_counter()
        result = run([directory])
        times.append(time.perf_counter() - started)
        assert result.ok, result.summary()
        steps = result.steps
    median = statistics.median(times)
    return steps / median, median


def parse_seconds(directory: Path, repeat: int) -> float:
    """Median seconds d2's YAML loader (ruamel, pure Python, with positions) takes for the suite."""
    from d2._lang.source import parse_policy_text

    text = (directory / "bench.d2test.yaml").read_text(encoding="utf-8")
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        parse_policy_text(text, "bench.d2test.yaml")
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        written = write_suite(directory, args.steps)
        rate, steps = replay_rate(directory, args.repeat)
        e2e_rate, seconds = end_to_end(directory, max(1, args.repeat // 2))
        parsing = parse_seconds(directory, max(1, args.repeat // 2))
    print(f"suite: {steps} steps in {steps // 5} cases (5 steps each, {written} written)")
    print(f"{'replay (loaded suite)':<32}{rate:>12,.0f} steps/s")
    print(f"{'end to end (files -> result)':<32}{e2e_rate:>12,.0f} steps/s  ({seconds:.2f} s)")
    print(f"{'  of which YAML parsing':<32}{parsing:>12.2f} s  ({parsing / seconds:.0%})")
    target = 10_000
    print(f"target >= {target:,} steps/s: replay {'met' if rate >= target else 'MISSED'}")


if __name__ == "__main__":
    sys.exit(main())
