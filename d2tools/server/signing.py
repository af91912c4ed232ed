"""What a publisher's device key signs: the request's intent, bound to its app and its precondition.

Shared by the CLI client (which signs) and the server (which checks), with no server dependency.
The signed message names the method, path, app, ``If-Match`` and ``If-None-Match`` headers, a
timestamp and the SHA-256 of the body, so a captured request cannot be replayed against another
app, another head version, another endpoint, with another body, or minutes later.
"""

from __future__ import annotations

import hashlib

__all__ = ["MAX_SKEW", "SCHEME", "signing_message"]

SCHEME = "d2-device-signature/1"
MAX_SKEW = 300  # seconds a signature stays valid either side of the server's clock


def signing_message(
    *,
    method: str,
    path: str,
    app: str,
    if_match: str | None,
    if_none_match: str | None,
    signed_at: int,
    body: bytes,
) -> bytes:
    """Return the exact bytes a device key signs for one request (one field per line)."""
    fields = [
        SCHEME,
        method.upper(),
        path,
        app,
        (if_match or "").strip(),
        (if_none_match or "").strip(),
        str(signed_at),
        hashlib.sha256(body).hexdigest(),
    ]
    return "\n".join(fields).encode("utf-8")
