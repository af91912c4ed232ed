"""d2: a fast, default-deny policy guard for the functions an AI agent (or any app) can call.

The public API is exactly what this module exports; everything else is private and may change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from d2._config import configure_rbac as configure_rbac
from d2._config import configure_rbac_async as configure_rbac_async
from d2._config import configure_rbac_sync as configure_rbac_sync
from d2._core.state import UserContext as UserContext
from d2._runtime.context import clear_user_context as clear_user_context
from d2._runtime.context import get_user_context as get_user_context
from d2._runtime.context import run_as as run_as
from d2._runtime.context import set_user as set_user
from d2._runtime.context import set_user_context as set_user_context
from d2._runtime.context import warn_if_context_set as warn_if_context_set
from d2._runtime.events import add_decision_sink as add_decision_sink
from d2._runtime.events import flush_events as flush_events
from d2._runtime.events import remove_decision_sink as remove_decision_sink
from d2._runtime.facts import get_facts as get_facts
from d2._runtime.facts import has_any_fact as has_any_fact
from d2._runtime.facts import has_fact as has_fact
from d2._runtime.facts import record_fact as record_fact
from d2._runtime.facts import record_facts as record_facts
from d2._runtime.guard import d2_guard as d2_guard
from d2._sources.manager import PolicyManager as PolicyManager
from d2._sources.manager import get_policy_manager as get_policy_manager
from d2._sources.manager import load_policy_file as load_policy_file
from d2._sources.manager import shutdown_all_rbac as shutdown_all_rbac
from d2._sources.manager import shutdown_rbac as shutdown_rbac
from d2.exceptions import BundleExpiredError as BundleExpiredError
from d2.exceptions import ConfigurationError as ConfigurationError
from d2.exceptions import ContextLeakWarning as ContextLeakWarning
from d2.exceptions import D2Error as D2Error
from d2.exceptions import D2NoContextError as D2NoContextError
from d2.exceptions import D2PlanLimitError as D2PlanLimitError
from d2.exceptions import InvalidSignatureError as InvalidSignatureError
from d2.exceptions import MissingPolicyError as MissingPolicyError
from d2.exceptions import PermissionDeniedError as PermissionDeniedError
from d2.exceptions import PolicyError as PolicyError
from d2.exceptions import PolicyTooLargeError as PolicyTooLargeError
from d2.exceptions import Reason as Reason
from d2.exceptions import TooManyToolsError as TooManyToolsError

if TYPE_CHECKING:
    from d2 import threads as threads
    from d2._base.diagnostics import Diagnostic as Diagnostic
    from d2._base.diagnostics import Location as Location
    from d2._base.diagnostics import Severity as Severity
    from d2._lang.compiler import CompileResult as CompileResult
    from d2._lang.compiler import compile_policy as compile_policy
    from d2._runtime.event_model import DecisionEvent as DecisionEvent
    from d2._runtime.middleware import ASGIMiddleware as ASGIMiddleware
    from d2._runtime.middleware import clear_context as clear_context
    from d2._runtime.middleware import clear_context_async as clear_context_async
    from d2._runtime.middleware import headers_extractor as headers_extractor
    from d2._runtime.request_values import get_request_values as get_request_values
    from d2._runtime.request_values import record_untrusted as record_untrusted
    from d2._runtime.request_values import set_request_values as set_request_values
    from d2._runtime.restrict import restrict as restrict
    from d2._runtime.session import httpx_session_hook as httpx_session_hook
    from d2._runtime.session import httpx_session_hook_async as httpx_session_hook_async
    from d2._runtime.session import join_session as join_session
    from d2._runtime.session import session as session
    from d2._runtime.session import session_reference as session_reference
    from d2._runtime.stream import serve_decision_stream as serve_decision_stream
    from d2._sources.session_state import configure_session_state as configure_session_state

# Imported on first use: the compiler pulls jsonschema and ruamel.yaml; sessions pull their key handling;
# request values and provenance their value-key machinery; the decision stream its socket server;
# the middleware, restrictions and thread helpers are only for the programs that use them.
_LAZY = {
    "DecisionEvent": "._runtime.event_model",
    "Severity": "._base.diagnostics",
    "Location": "._base.diagnostics",
    "Diagnostic": "._base.diagnostics",
    "ASGIMiddleware": "._runtime.middleware",
    "clear_context": "._runtime.middleware",
    "clear_context_async": "._runtime.middleware",
    "headers_extractor": "._runtime.middleware",
    "restrict": "._runtime.restrict",
    "threads": ".threads",
    "get_request_values": "._runtime.request_values",
    "record_untrusted": "._runtime.request_values",
    "set_request_values": "._runtime.request_values",
    "serve_decision_stream": "._runtime.stream",
    "CompileResult": "._lang.compiler",
    "compile_policy": "._lang.compiler",
    "configure_session_state": "._sources.session_state",
    "httpx_session_hook": "._runtime.session",
    "httpx_session_hook_async": "._runtime.session",
    "join_session": "._runtime.session",
    "session": "._runtime.session",
    "session_reference": "._runtime.session",
}


def __getattr__(name: str) -> Any:
    """Import what most programs never touch (the compiler, sessions, middleware, ...) on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'd2' has no attribute {name!r}")
    from importlib import import_module

    imported = import_module(module, __name__)
    value = imported if name == "threads" else getattr(imported, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


d2 = d2_guard

__version__ = "0.1.0"

__all__ = [
    "ASGIMiddleware",
    "BundleExpiredError",
    "CompileResult",
    "ConfigurationError",
    "ContextLeakWarning",
    "D2Error",
    "D2NoContextError",
    "D2PlanLimitError",
    "DecisionEvent",
    "Diagnostic",
    "InvalidSignatureError",
    "Location",
    "MissingPolicyError",
    "PermissionDeniedError",
    "PolicyError",
    "PolicyManager",
    "PolicyTooLargeError",
    "Reason",
    "Severity",
    "TooManyToolsError",
    "UserContext",
    "add_decision_sink",
    "clear_context",
    "clear_context_async",
    "clear_user_context",
    "compile_policy",
    "configure_rbac",
    "configure_rbac_async",
    "configure_rbac_sync",
    "configure_session_state",
    "d2",
    "d2_guard",
    "flush_events",
    "get_facts",
    "get_policy_manager",
    "get_request_values",
    "get_user_context",
    "has_any_fact",
    "has_fact",
    "headers_extractor",
    "httpx_session_hook",
    "httpx_session_hook_async",
    "join_session",
    "load_policy_file",
    "record_fact",
    "record_facts",
    "record_untrusted",
    "remove_decision_sink",
    "restrict",
    "run_as",
    "serve_decision_stream",
    "session",
    "session_reference",
    "set_request_values",
    "set_user",
    "set_user_context",
    "shutdown_all_rbac",
    "shutdown_rbac",
    "threads",
    "warn_if_context_set",
]
