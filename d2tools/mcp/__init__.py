"""``d2 mcp-proxy``: a policy-enforcing MCP proxy in front of any MCP server (docs/mcp.md).

Needs the ``mcp`` extra (``pip install 'd2-guard[mcp]'``); ``import d2`` never imports this package.
"""

from __future__ import annotations

import sys

from ._config import AuthSpec, IdentitySpec, ProxyConfig, UpstreamSpec, load_config
from ._proxy import REFUSAL_ERROR_CODE, REFUSAL_META_KEY, Proxy
from ._serve import build_server, http_app, load_policy, serve_http, serve_stdio
from ._upstream import UpstreamUnavailable

__all__ = [
    "REFUSAL_ERROR_CODE",
    "REFUSAL_META_KEY",
    "AuthSpec",
    "IdentitySpec",
    "Proxy",
    "ProxyConfig",
    "UpstreamSpec",
    "UpstreamUnavailable",
    "build_server",
    "http_app",
    "load_config",
    "load_policy",
    "run_proxy",
    "serve_http",
    "serve_stdio",
]


def _find_unavailable(exc: BaseException) -> UpstreamUnavailable | None:
    if isinstance(exc, UpstreamUnavailable):
        return exc
    for inner in getattr(exc, "exceptions", ()) or ():
        found = _find_unavailable(inner)
        if found is not None:
            return found
    return None


def run_proxy(config: ProxyConfig, *, instance_name: str = "default") -> int:
    """Load the policy and serve until the client leaves (stdio) or the process is stopped (HTTP).

    Returns the exit code: 0 after a normal end, 1 when an upstream server could not be started.
    """
    import anyio

    load_policy(config, instance_name)
    import gc

    # Everything imported and compiled so far lives as long as the process: keep it out of the
    # collector's full passes, which otherwise rescan the SDK's pydantic schemas on every call burst.
    gc.freeze()
    try:
        if config.listen is None:
            anyio.run(lambda: serve_stdio(config, instance_name=instance_name))
        else:
            anyio.run(lambda: serve_http(config, instance_name=instance_name))
    except KeyboardInterrupt:
        return 0
    except BaseException as exc:
        down = _find_unavailable(exc)
        if down is None:
            raise
        print(f"d2 mcp-proxy: {down}; check the upstream command or URL", file=sys.stderr)
        return 1
    finally:
        import d2

        d2.flush_events(timeout=2.0)  # the decision log gets every event before the process ends
    return 0
