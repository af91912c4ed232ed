"""Cost of binding a condition to a user attribute instead of a literal.

Times the same guarded call with ``tenant_id: {eq: "acme"}`` and with ``tenant_id: {eq: {$attr:
user.tenant}}`` (median of repeated runs) and prints the difference. Target: <= 1 µs.
Run: ``python bench/attributes.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _timing import per_call_us

import d2

POLICY = """
policies:
  - role: analyst
    permissions:
      - tool: bench.literal
        conditions:
          input:
            tenant_id: {eq: acme}
      - tool: bench.attribute
        conditions:
          input:
            tenant_id: {eq: {$attr: user.tenant}}
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy.yaml"
        path.write_text(POLICY)
        d2.configure_rbac_sync(path)

    def body(tenant_id: str) -> int:
        return 1

    literal = d2.d2_guard("bench.literal")(body)
    attribute = d2.d2_guard("bench.attribute")(body)
    d2.set_user("bench", ["analyst"], attributes={"tenant": "acme"})
    bare = per_call_us(lambda: body("acme"))
    lit = per_call_us(lambda: literal("acme"))
    attr = per_call_us(lambda: attribute("acme"))
    print(f"bare call                        {bare:8.3f} µs")
    print(f"literal condition                {lit:8.3f} µs  (overhead {lit - bare:.3f} µs)")
    print(f"attribute-bound condition        {attr:8.3f} µs  (overhead {attr - bare:.3f} µs)")
    print(f"attribute over literal           {attr - lit:8.3f} µs  (target <= 1 µs)")
    d2.clear_user_context()
    d2.shutdown_all_rbac()


if __name__ == "__main__":
    main()
