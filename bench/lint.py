"""Time ``d2 lint`` on a generated large policy: 1,000 tools, 100 roles.

Usage: ``python bench/lint.py [--tools 1000] [--roles 100] [--per-role 50] [--repeat 5]``

Each role is granted ``--per-role`` tools by name (one in ten with input conditions) plus two tool
groups, and declares two sequence rules; the policy also has data-flow labels. Prints the policy's
size, then the median time of each stage of :func:`d2tools.lint.lint_file` (parse with ruamel.yaml,
compile, lint-only checks) and of a whole ``d2 lint`` process. The target is 1 s or less.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def generate(tools: int, roles: int, per_role: int, seed: int = 7) -> str:
    """Write the policy text (YAML, block style, as people write it)."""
    rng = random.Random(seed)
    ids = [f"svc{i // 10}.op{i % 10}" for i in range(tools)]
    groups = {f"g{i}": ids[i * 20 : i * 20 + 20] for i in range(min(20, tools // 20))}
    lines = ["metadata:", "  name: bench", "  tool_groups:"]
    for name, members in groups.items():
        lines.append(f"    {name}: [{', '.join(members)}]")
    lines += ["  data_flow:", "    labels:", f"      {ids[0]}: [pii]", "    blocks:", "      pii: ['@g1']"]
    lines += ["policies:", "  - role: admin", '    permissions: ["*"]']
    for r in range(roles):
        lines += [f"  - role: role{r}", "    permissions:"]
        chosen = rng.sample(sorted(groups), 2)
        lines += [f'      - "@{name}"' for name in chosen]
        grouped = {t for name in chosen for t in groups[name]}
        for tool in rng.sample([t for t in ids if t not in grouped], per_role):
            if rng.random() < 0.1:
                lines += [
                    f"      - tool: {tool}",
                    "        conditions:",
                    "          input:",
                    "            amount: {type: int, min: 0, max: 1000}",
                    "            note: {maxLength: 200, not_matches: 'secret'}",
                ]
            else:
                lines.append(f"      - {tool}")
        a, b = rng.sample(ids, 2)
        lines += [
            "    sequence:",
            f"      - deny: [{a}, {b}]",
            f"        reason: no {a} then {b}",
            f"      - deny: ['@g0', {b}]",
        ]
    return "\n".join(lines) + "\n"


def median_s(fn: Callable[[], Any], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", type=int, default=1000)
    parser.add_argument("--roles", type=int, default=100)
    parser.add_argument("--per-role", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from d2._lang.compiler import compile_policy
    from d2._lang.source import parse_policy_file
    from d2tools.lint import lint_checks, lint_file

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy.yaml"
        path.write_text(generate(args.tools, args.roles, args.per_role), encoding="utf-8")
        doc = parse_policy_file(path)
        result = compile_policy(doc)
        assert result.policy is not None, [d.render() for d in result.errors[:5]]
        policy = result.policy
        lines = path.read_text(encoding="utf-8").count("\n")
        print(
            f"policy: {lines} lines, {path.stat().st_size / 1024:.0f} KiB, {len(policy.known_tools)} tools, "
            f"{len(policy.roles)} roles, {len(result.diagnostics)} diagnostics"
        )
        parse = median_s(lambda: parse_policy_file(path), args.repeat)
        comp = median_s(lambda: compile_policy(doc), args.repeat)
        checks = median_s(lambda: lint_checks(doc, policy), args.repeat)
        total = median_s(lambda: lint_file(path), args.repeat)
        cmd = [sys.executable, "-m", "d2", "lint", str(path)]
        process = median_s(
            lambda: subprocess.run(cmd, capture_output=True, check=False), max(3, args.repeat // 2)
        )
        for name, value in (
            ("parse (ruamel.yaml)", parse),
            ("compile", comp),
            ("lint-only checks", checks),
            ("lint_file total", total),
            ("`d2 lint` process", process),
        ):
            print(f"{name:<22}{value * 1000:>9.0f} ms")
        print(f"target: lint in <= 1000 ms: {'met' if total <= 1.0 else 'NOT met'} (in-process)")


if __name__ == "__main__":
    main()
