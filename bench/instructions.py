"""Guard cost in CPU instructions per call, counted by valgrind's callgrind: the same figure on a busy
machine as on a quiet one, so two checkouts can be compared while other work runs.

Each case runs in a fresh interpreter under callgrind twice, with ``--small`` and ``--large`` calls;
the difference divided by the difference in calls is the per-call count, start-up cancelled out.
``PYTHONHASHSEED=0`` keeps dict layouts, and so the counts, repeatable. ``import d2`` is counted the
same way (an interpreter that imports d2 minus one that does not).

Usage: ``python bench/instructions.py [--against REF] [--cases allow,deny,...]``. With ``--against``,
the same cases run on a ``git worktree`` of REF (removed afterwards) and the table shows both.
Needs ``valgrind`` on PATH. Wall-clock figures stay with ``bench/guard.py`` and ``bench/scale.py``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# One script for every case: it configures a policy, sets a user, then makes N calls.
CASE_SCRIPT = """
import asyncio, gc, sys, tempfile
from pathlib import Path
import d2

POLICY = '''
policies:
  - role: analyst
    permissions: [bench.allowed, bench.async_allowed]
  - role: other
    permissions: [bench.denied]
'''
SEQUENCE = '''
metadata:
  tool_groups:
    sensitive: [db.read]
    external: [net.send]
policies:
  - role: analyst
    permissions: [bench.allowed, "@sensitive", "@external"]
    sequence:
      - deny: ["@sensitive", "@external"]
'''
case, n = sys.argv[1], int(sys.argv[2])
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "policy.yaml"
    path.write_text(SEQUENCE if case == "sequence" else POLICY)
    d2.configure_rbac_sync(path)

def bare():
    return 1

async def abare():
    return 1

allowed = d2.d2_guard("bench.allowed")(bare)
denied = d2.d2_guard("bench.denied")(bare)
denied_value = d2.d2_guard("bench.denied", on_deny=None)(bare)
async_allowed = d2.d2_guard("bench.async_allowed")(abare)
d2.set_user("alice", ["analyst"])
# Set-up objects out of the collector's passes: a full collection landing in one run but not the
# other would otherwise swing a case by thousands of instructions per call.
gc.collect()
gc.freeze()
if case == "sink":
    d2.add_decision_sink(lambda event: None)

if case in ("bare", "allow", "sink", "sequence", "deny_value"):
    fn = {"bare": bare, "deny_value": denied_value}.get(case, allowed)
    for _ in range(n):
        fn()
elif case == "deny":
    for _ in range(n):
        try:
            denied()
        except d2.PermissionDeniedError:
            pass
elif case in ("async_bare", "async_allow"):
    afn = abare if case == "async_bare" else async_allowed

    async def main():
        for _ in range(n):
            await afn()

    asyncio.run(main())
if case == "sink":
    d2.flush_events()
"""

CASES = ("allow", "sequence", "deny", "deny_value", "sink", "async_allow")
# The bare call each case is measured against.
BASELINE = {"async_allow": "async_bare"}


def _env(tree: Path) -> dict[str, str]:
    # Byte-code caches on: a compile on every start would swamp the import figure.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONHASHSEED": "0", "PYTHONPATH": str(tree)}


def count(tree: Path, args: list[str]) -> int:
    """Instructions callgrind counts for one interpreter run of ``args`` on the checkout ``tree``."""
    env = _env(tree)
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no total:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def per_call(tree: Path, script: Path, case: str, small: int, large: int) -> float:
    low = count(tree, [str(script), case, str(small)])
    high = count(tree, [str(script), case, str(large)])
    return (high - low) / (large - small)


def measure(tree: Path, cases: list[str], small: int, large: int) -> dict[str, float]:
    """Instructions per call over the bare call, for each case; and thousands for ``import d2``."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "case.py"
        script.write_text(CASE_SCRIPT)
        subprocess.run([sys.executable, "-c", "import d2"], cwd=tree, env=_env(tree), check=True)
        bases = {name: per_call(tree, script, name, small, large) for name in {"bare", "async_bare"}}
        out = {
            case: per_call(tree, script, case, small, large) - bases[BASELINE.get(case, "bare")]
            for case in cases
        }
    out["import d2 (k)"] = (count(tree, ["-c", "import d2"]) - count(tree, ["-c", "pass"])) / 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--against", help="a git ref to measure beside the working tree")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--small", type=int, default=5_000)
    parser.add_argument("--large", type=int, default=45_000)
    opts = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed: this benchmark counts instructions with callgrind")
    cases = [c for c in opts.cases.split(",") if c]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        sys.exit(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    columns = {"working tree": measure(ROOT, cases, opts.small, opts.large)}
    if opts.against:
        with tempfile.TemporaryDirectory() as tmp:
            tree = Path(tmp) / "ref"
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(tree), opts.against], cwd=ROOT, check=True
            )
            try:
                columns[opts.against] = measure(tree, cases, opts.small, opts.large)
            finally:
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
    names = list(columns)
    print("instructions per call over a bare call (import d2: thousands of instructions)")
    print(f"{'case':<16}" + "".join(f"{n:>16}" for n in names) + ("   change" if len(names) == 2 else ""))
    for case in [*cases, "import d2 (k)"]:
        values = [columns[n][case] for n in names]
        line = f"{case:<16}" + "".join(f"{v:>16,.0f}" for v in values)
        if len(values) == 2 and values[1]:
            line += f"   {(values[0] - values[1]) / values[1] * 100:+.1f} %"
        print(line)


if __name__ == "__main__":
    main()
