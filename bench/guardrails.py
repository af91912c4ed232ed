"""Guardrail overhead: three input conditions, and filter + redact over a 20-row result.

Prints µs per call (median of repeated runs), the overhead over the bare function call, and the parts
that make it up (argument binding, the compiled checks and the sanitizer on their own), so a
regression can be traced to its layer. Targets (issue 3): input conditions <= 3 µs overhead,
filter + redact on 20 rows <= 25 µs overhead. Run: ``python bench/guardrails.py``.
"""

from __future__ import annotations

import inspect
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _timing import per_call_us, report

import d2
from d2._runtime.binding import compile_binder
from d2._runtime.context import current_state

POLICY = """
policies:
  - role: analyst
    permissions:
      - bench.plain
      - tool: bench.generate
        conditions:
          input:
            table: {in: [analytics, dashboards]}
            row_limit: {type: int, min: 1, max: 1000}
            format: {matches: "^[a-z_]+$"}
      - tool: bench.rows
        conditions:
          output:
            ssn: {action: filter}
            email: {action: redact}
"""

ROWS = [
    {"id": i, "name": f"user{i}", "email": f"user{i}@example.com", "ssn": f"123-45-{i:04d}", "active": True}
    for i in range(20)
]


def generate(table: str, row_limit: int, format: str = "daily") -> int:
    return 1


def rows() -> list[dict[str, object]]:
    return ROWS


def plain() -> int:
    return 1


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy.yaml"
        path.write_text(textwrap.dedent(POLICY))
        policy = d2.load_policy_file(path)
        d2.get_policy_manager().install(policy)
    g_plain = d2.d2_guard("bench.plain")(plain)
    g_generate = d2.d2_guard("bench.generate")(generate)
    g_rows = d2.d2_guard("bench.rows")(rows)
    d2.set_user("bench", ["analyst"])
    assert "ssn" not in g_rows()[0] and "ssn" in ROWS[0]

    base = per_call_us(plain)
    wrapper = per_call_us(lambda: plain())
    call_in = per_call_us(lambda: generate("analytics", 500, "weekly_summary"))
    guard_in = per_call_us(lambda: g_generate("analytics", 500, "weekly_summary"))
    call_out = per_call_us(rows)
    guard_out = per_call_us(g_rows, number=20_000)
    report(
        [
            ("bare call", base),
            ("guard: RBAC allow (reference)", per_call_us(g_plain)),
            ("bare generate(3 args)", call_in),
            ("guard: 3 input conditions", guard_in),
            ("bare rows() (20 rows)", call_out),
            ("guard: filter+redact, 20 rows", guard_out),
        ],
        baseline=base,
        wrapper=wrapper,
    )
    print()
    _parts(policy)
    print()
    print(f"3 input conditions overhead over bare call:   {guard_in - call_in:7.3f} µs  (target <= 3)")
    print(f"filter+redact 20 rows overhead over bare call: {guard_out - call_out:7.3f} µs  (target <= 25)")
    d2.clear_user_context()
    d2.shutdown_all_rbac()


def _parts(policy: d2.CompileResult | object) -> None:
    """Time each layer alone: binding (inspect vs d2's binder), the checks, the sanitizer."""
    state = current_state()
    grants = policy.grants  # type: ignore[attr-defined]
    check = grants["bench.generate"]["analyst"][0].input.check
    output = grants["bench.rows"]["analyst"][0].output.apply
    sig = inspect.signature(generate)
    fast = compile_binder(sig)
    args = ("analytics", 500, "weekly_summary")
    bound = fast(args, {})

    def inspect_bind() -> object:
        b = sig.bind(*args)
        b.apply_defaults()
        return b.arguments

    print(f"{'part':<34}{'µs/call':>10}")
    for name, fn, number in [
        ("bind: inspect.Signature.bind", inspect_bind, 100_000),
        ("bind: d2._runtime.binding.compile_binder", lambda: fast(args, {}), 100_000),
        ("3 input conditions (check only)", lambda: check(bound, state), 100_000),
        ("filter+redact 20 rows (apply only)", lambda: output(ROWS, state), 20_000),
    ]:
        print(f"{name:<34}{per_call_us(fn, number=number):>10.3f}")


if __name__ == "__main__":
    main()
