"""Request-scoped context for web apps under the vendor SDK's ``d2.middleware`` module path.

The same objects as ``d2.ASGIMiddleware``, ``d2.clear_context`` and friends. Note that
``headers_extractor`` trusts client-sent headers: use it only behind a proxy that sets them.
"""

from __future__ import annotations

from d2._runtime.middleware import ASGIMiddleware, clear_context, clear_context_async, headers_extractor

__all__ = ["ASGIMiddleware", "clear_context", "clear_context_async", "headers_extractor"]
