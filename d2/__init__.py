"""d2: a fast, default-deny policy guard for the functions an AI agent (or any app) can call.

The public API is exactly what this module exports; everything else is private and may change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import threads as threads
from ._context import UserContext as UserContext
from ._context import clear_user_context as clear_user_context
from ._context import get_user_context as get_user_context
from ._context import run_as as run_as
from ._context import set_user as set_user
from ._context import set_user_context as set_user_context
from ._context import warn_if_context_set as warn_if_context_set
from ._diagnostics import Diagnostic as Diagnostic
from ._diagnostics import Location as Location
from ._diagnostics import Severity as Severity
from ._events import DecisionEvent as DecisionEvent
from ._events import add_decision_sink as add_decision_sink
from ._events import flush_events as flush_events
from ._events import remove_decision_sink as remove_decision_sink
from ._facts import get_facts as get_facts
from ._facts import has_any_fact as has_any_fact
from ._facts import has_fact as has_fact
from ._facts import record_fact as record_fact
from ._facts import record_facts as record_facts
from ._guard import d2_guard as d2_guard
from ._manager import PolicyManager as PolicyManager
from ._manager import configure_rbac_async as configure_rbac_async
from ._manager import configure_rbac_sync as configure_rbac_sync
from ._manager import get_policy_manager as get_policy_manager
from ._manager import load_policy_file as load_policy_file
from ._manager import shutdown_all_rbac as shutdown_all_rbac
from ._manager import shutdown_rbac as shutdown_rbac
from ._middleware import ASGIMiddleware as ASGIMiddleware
from ._middleware import clear_context as clear_context
from ._middleware import clear_context_async as clear_context_async
from ._middleware import headers_extractor as headers_extractor
from ._restrict import restrict as restrict
from .exceptions import BundleExpiredError as BundleExpiredError
from .exceptions import ConfigurationError as ConfigurationError
from .exceptions import D2Error as D2Error
from .exceptions import D2NoContextError as D2NoContextError
from .exceptions import D2PlanLimitError as D2PlanLimitError
from .exceptions import InvalidSignatureError as InvalidSignatureError
from .exceptions import MissingPolicyError as MissingPolicyError
from .exceptions import PermissionDeniedError as PermissionDeniedError
from .exceptions import PolicyTooLargeError as PolicyTooLargeError
from .exceptions import Reason as Reason
from .exceptions import TooManyToolsError as TooManyToolsError

if TYPE_CHECKING:
    from ._compile import CompileResult as CompileResult
    from ._compile import compile_policy as compile_policy

_LAZY = {"CompileResult": "._compile", "compile_policy": "._compile"}


def __getattr__(name: str) -> Any:
    """Import the policy compiler (jsonschema, ruamel.yaml) only when it is first used."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'd2' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


d2 = d2_guard

__version__ = "0.1.0"

__all__ = [
    "ASGIMiddleware",
    "BundleExpiredError",
    "CompileResult",
    "ConfigurationError",
    "D2Error",
    "D2NoContextError",
    "D2PlanLimitError",
    "DecisionEvent",
    "Diagnostic",
    "InvalidSignatureError",
    "Location",
    "MissingPolicyError",
    "PermissionDeniedError",
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
    "configure_rbac_async",
    "configure_rbac_sync",
    "d2",
    "d2_guard",
    "flush_events",
    "get_facts",
    "get_policy_manager",
    "get_user_context",
    "has_any_fact",
    "has_fact",
    "headers_extractor",
    "load_policy_file",
    "record_fact",
    "record_facts",
    "remove_decision_sink",
    "restrict",
    "run_as",
    "set_user",
    "set_user_context",
    "shutdown_all_rbac",
    "shutdown_rbac",
    "threads",
    "warn_if_context_set",
]
