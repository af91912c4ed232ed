"""Guard overhead on the hot path: RBAC allow and deny, sync and async.

Prints µs per call (median of repeated runs), the overhead over a bare call, and ratios to a bare call
and to a wrapper that does one dict lookup (the floor any decorator pays). Also times ``import d2``
in a fresh interpreter. Run: ``python bench/guard.py``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _timing import per_call_us, per_call_us_async, report

import d2

POLICY = """
policies:
  - role: analyst
    permissions: [bench.allowed, bench.async_allowed]
  - role: other
    permissions: [bench.denied, bench.async_denied]
"""


def import_time_ms(runs: int = 7) -> float:
    """Median in-process time of ``import d2`` in a fresh interpreter."""
    code = "import time; t = time.perf_counter(); import d2; print((time.perf_counter() - t) * 1000)"
    samples = [float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(runs)]
    return statistics.median(samples)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy.yaml"
        path.write_text(textwrap.dedent(POLICY))
        d2.configure_rbac_sync(path)

    def bare() -> int:
        return 1

    table = {"bench.allowed": True}

    def dict_wrapper() -> int:
        if table.get("bench.allowed"):
            return bare()
        raise PermissionError

    allowed = d2.d2_guard("bench.allowed")(bare)
    denied = d2.d2_guard("bench.denied", on_deny=None)(bare)
    denied_raise = d2.d2_guard("bench.denied")(bare)

    def deny_raising() -> None:
        try:
            denied_raise()
        except d2.PermissionDeniedError:
            pass

    async def abare() -> int:
        return 1

    aallowed = d2.d2_guard("bench.async_allowed")(abare)
    adenied = d2.d2_guard("bench.async_denied", on_deny=None)(abare)

    d2.set_user("bench", ["analyst"])
    base = per_call_us(bare)
    wrapper = per_call_us(dict_wrapper)
    rows = [
        ("bare call", base),
        ("one-dict-lookup wrapper", wrapper),
        ("sync guard: RBAC allow", per_call_us(allowed)),
        ("sync guard: deny (on_deny value)", per_call_us(denied)),
        ("sync guard: deny (raise+catch)", per_call_us(deny_raising, number=30_000)),
    ]
    report(rows, baseline=base, wrapper=wrapper)
    abase = per_call_us_async(abare)
    arows = [
        ("async bare await", abase),
        ("async guard: RBAC allow", per_call_us_async(aallowed)),
        ("async guard: deny (on_deny value)", per_call_us_async(adenied)),
    ]
    print()
    report(arows, baseline=abase, wrapper=wrapper + (abase - base))
    print(f"\nimport d2: {import_time_ms():.1f} ms (median, fresh interpreter, in-process timing)")
    d2.clear_user_context()
    d2.shutdown_all_rbac()


if __name__ == "__main__":
    main()
