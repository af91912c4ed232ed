"""Cost of request-value (``in_request``) and provenance (``not_from``) conditions.

The request: a 2,000-character instruction (the identifier the user named at its very end, the worst
place for a search), and 100 results of an untrusted tool already read (~500 characters each, full
of identifiers). Times, median of repeated runs:

* each condition alone (the compiled input check of one grant, one argument), the figure the issue
  bounds at 5 µs;
* the whole guarded call with that condition, minus the same guarded call with ``type: string`` only;
* recording one untrusted result (what a labelled tool pays after it returns), and the record's size.

Each figure is given twice: wall-clock (median of runs, as the other benches) and CPU time of this
process (best of runs, ``time.process_time``), which other processes on a shared machine cannot
inflate. Run: ``python bench/provenance.py``. Figures are quoted in docs/injection-defence.md.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _timing import per_call_us

import d2
from d2._core.origins import Provenance, result_keys
from d2._runtime.context import current_state

FOLD = "{names: instruction, ignore_case: true, ignore_spaces: true}"
POLICY = f"""
metadata:
  data_flow:
    labels:
      mail.read: [untrusted]
    untrusted: [untrusted]
policies:
  - role: agent
    permissions:
      - mail.read
      - tool: plain
        conditions:
          input:
            x: {{type: string}}
      - tool: request_text
        conditions:
          input:
            x: {{type: string, in_request: {FOLD}}}
      - tool: provenance
        conditions:
          input:
            x: {{type: string, not_from: {{labels: untrusted, unless_in_request: {FOLD}}}}}
"""
IBAN = "GB29 NWBK 6016 1331 9268 19"
WORDS = "please the a of to pay and send invoice from account team meeting notes report budget".split()


def _instruction(rng: random.Random) -> str:
    text = ""
    while len(text) < 2000 - len(IBAN) - 1:
        text += rng.choice(WORDS) + " "
    return text[: 2000 - len(IBAN) - 1] + " " + IBAN


def _result(rng: random.Random, i: int) -> dict[str, Any]:
    body = " ".join(rng.choice(WORDS) for _ in range(60))
    iban = f"DE{rng.randrange(10**20):020d}"
    tail = f"ref INV-{rng.randrange(10**6)} see https://h{i}.example/p?q={i} IBAN {iban}"
    return {"id": f"msg-{i}", "from": f"user{i}@example{i % 7}.com", "body": f"{body} {tail}"}


def cpu_us(fn: Callable[[], Any], *, number: int = 20_000, repeat: int = 5) -> float:
    """Best CPU microseconds per call of ``fn`` (this process only)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(number):
            fn()
        best = min(best, (time.process_time() - start) / number * 1e6)
    return best


def both(fn: Callable[[], Any], number: int = 20_000) -> tuple[float, float]:
    return per_call_us(fn, number=number), cpu_us(fn, number=number)


def main() -> None:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy.yaml"
        path.write_text(POLICY)
        d2.configure_rbac_sync(path)

    def body(x: str) -> int:
        return 1

    plain, text_tool, prov_tool = (d2.d2_guard(t)(body) for t in ("plain", "request_text", "provenance"))
    results = [_result(rng, i) for i in range(100)]
    reader = d2.d2_guard("mail.read")(lambda i: results[i])

    d2.set_user("bench", ["agent"])
    d2.set_request_values(instruction=_instruction(rng))
    for i in range(100):
        reader(i)
    seen = results[42]["from"]  # read in an untrusted result, not in the instruction
    compact = IBAN.replace(" ", "")  # in the instruction, not in any result

    state = current_state()
    assert state is not None
    policy = d2.get_policy_manager().policy
    assert policy is not None
    checks = {t: policy.grants[t]["agent"][0].input for t in ("plain", "request_text", "provenance")}

    def alone(tool: str, value: str, *, refusal: bool = False) -> tuple[float, float]:
        check = checks[tool]
        assert check is not None
        if refusal:  # the whole input check: the condition, then the explanation of the refusal
            args = {"x": value}
            return both(lambda: check.check(args, state))
        test = check._fields[0][1]  # the grant's fused predicate for `x`: the condition itself
        return both(lambda: test(value, state))

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'condition alone, µs per call':<48}{'wall':>8}{'cpu':>8}")
    rows = [
        ("type: string (reference)", alone("plain", compact)),
        ("in_request, found at the end", alone("request_text", compact)),
        ("in_request, not found", alone("request_text", "GB00NOPE00000000000000")),
        ("not_from, not seen", alone("provenance", compact)),
        ("not_from, seen and not in request", alone("provenance", seen)),
        ("  the same, refusal explained (whole check)", alone("provenance", seen, refusal=True)),
    ]
    for name, (wall, cpu) in rows:
        print(f"  {name:<46}{wall:8.3f}{cpu:8.3f}")
    assert text_tool(compact) == 1 and prov_tool(compact) == 1

    print("guarded call, µs per call (and over the same call with `type: string` only):")
    base_wall, base_cpu = both(lambda: plain(compact))
    for name, fn in (("in_request", text_tool), ("not_from", prov_tool)):
        wall, cpu = both(lambda fn=fn: fn(compact))  # type: ignore[misc]
        print(
            f"  {name:<22}wall {wall:7.3f} (+{wall - base_wall:.3f})   cpu {cpu:7.3f} (+{cpu - base_cpu:.3f})"
        )

    record = Provenance(limit=10**9)
    lock = state.log.lock
    one = results[0]
    size = len(str(one))
    cost = cpu_us(lambda: record.record(("untrusted",), one, lock), number=500)
    tracemalloc.start()
    fresh = Provenance(limit=10**9)
    for item in results:
        fresh.record(("untrusted",), item, lock)
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    keys = sum(len(result_keys(r)[0]) for r in results)
    print(f"recording one untrusted result (~{size} chars): {cost:.1f} µs cpu")
    print(
        f"record after 100 results: {fresh.count} keys ({keys} before de-duplication), ~{held / 1024:.0f} KiB"
    )
    d2.clear_user_context()


if __name__ == "__main__":
    main()
