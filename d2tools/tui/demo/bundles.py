"""Two signed versions of the demo policy, so ``--demo`` shows the bundles view and a diff too.

Signed with a key generated for this run only (never written anywhere); version 1 is the demo
policy before the analyst's sequence rule and the ``@egress`` grant were added, version 2 is the
policy on screen. Both are verified with the SDK's own verifier, like any other bundle.
"""

from __future__ import annotations

import time

from ..bundles.read import BundleRead, read_bundle
from .agent import demo_policy_path

__all__ = ["demo_bundles"]

_V1_DROPS = ('      - "@egress"\n', "    sequence:\n", "      - deny: [database.read_users, http.post]\n")


def demo_bundles(now: float | None = None) -> list[BundleRead]:
    """Sign v1 and v2 of the demo policy with a throwaway key and read them back, verified."""
    from d2._toolkit import generate_private_key, jwks_document, key_id, sign_bundle

    text = demo_policy_path().read_text(encoding="utf-8")
    older = text
    for line in _V1_DROPS:
        older = older.replace(line, "")
    older = older.replace("        reason: no user data to the web\n", "")
    key = generate_private_key()
    kid = key_id(key.public_key())
    jwks = jwks_document([key.public_key()])
    issued = int(now if now is not None else time.time())
    found = []
    for version, body in ((2, text), (1, older)):
        token = sign_bundle(
            body, app="tui-demo", version=version, private_key=key, kid=kid, ttl=7 * 86400, now=issued
        )
        found.append(read_bundle(token, f"demo bundle v{version}", jwks=jwks, etag=f'"demo-v{version}"'))
    return found
