"""The one door from the toolchain (``d2tools``) into d2's internals.

``d2tools`` (CLI, linter, scenario runner, TUI, MCP proxy, control-plane server) imports ``d2``'s public
API or this module, never a private module directly, so the runtime can be rearranged without touching
the toolchain. Everything here is the policy language (load, validate, compile), the pure engine, and
the bundle/key primitives the control plane shares with the SDK. Not public API: no stability promise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from d2._base.diagnostics import Diagnostic, Location, Severity
    from d2._base.suggest import suggest
    from d2._core.callkeys import UNSEEN, Unseen
    from d2._core.model import CompiledPolicy, Grant, MissingAttribute
    from d2._core.origins import RequestValues, origins_of
    from d2._core.state import RequestLog, RequestState, UserContext
    from d2._engine.decide import apply_output, authorize, deny, missing_attribute
    from d2._engine.provenance import track_output
    from d2._engine.shared import share_facts
    from d2._lang.compiler import CompileResult, compile_policy
    from d2._lang.schema import load_schema, schema_diagnostics
    from d2._lang.source import JsonPath, SourceDoc, max_bytes_from_env, parse_policy_file, parse_policy_text
    from d2._lang.values import same
    from d2._runtime.binding import Binder, compile_binder
    from d2._runtime.context import push_state, reset_state
    from d2._runtime.events import record_refusal
    from d2._runtime.restrict import compile_restriction
    from d2._runtime.session import joined_state
    from d2._runtime.stream import parse_stream_address
    from d2._sources.bundle import DEFAULT_AUDIENCE, sign_bundle, verify_bundle
    from d2._sources.cloud import bundle_source, cloud_config
    from d2._sources.cloud_http import (
        DEVELOPER_TOKEN,
        RUNTIME_TOKEN,
        HttpError,
        Response,
        http_get,
        http_request,
    )
    from d2._sources.cloud_state import default_state_path
    from d2._sources.discovery import POLICY_NAMES, discover_policy, xdg_policy_dir
    from d2._sources.jwks import (
        generate_private_key,
        jwks_document,
        key_id,
        load_private_key,
        parse_jwks,
        private_key_pem,
        public_jwk,
    )
    from d2._sources.session_state import joined_target, refusing_log, seal_log, session_log

# Each name's module, imported on first use: a `d2 lint` run never loads the cloud client, the
# session backends or the decision stream, and the CLI starts faster for it.
_WHERE = {
    "Diagnostic": "d2._base.diagnostics",
    "Location": "d2._base.diagnostics",
    "Severity": "d2._base.diagnostics",
    "suggest": "d2._base.suggest",
    "UNSEEN": "d2._core.callkeys",
    "Unseen": "d2._core.callkeys",
    "CompiledPolicy": "d2._core.model",
    "Grant": "d2._core.model",
    "MissingAttribute": "d2._core.model",
    "RequestValues": "d2._core.origins",
    "origins_of": "d2._core.origins",
    "RequestLog": "d2._core.state",
    "RequestState": "d2._core.state",
    "UserContext": "d2._core.state",
    "apply_output": "d2._engine.decide",
    "authorize": "d2._engine.decide",
    "deny": "d2._engine.decide",
    "missing_attribute": "d2._engine.decide",
    "track_output": "d2._engine.provenance",
    "share_facts": "d2._engine.shared",
    "CompileResult": "d2._lang.compiler",
    "compile_policy": "d2._lang.compiler",
    "load_schema": "d2._lang.schema",
    "schema_diagnostics": "d2._lang.schema",
    "JsonPath": "d2._lang.source",
    "SourceDoc": "d2._lang.source",
    "max_bytes_from_env": "d2._lang.source",
    "parse_policy_file": "d2._lang.source",
    "parse_policy_text": "d2._lang.source",
    "same": "d2._lang.values",
    "Binder": "d2._runtime.binding",
    "compile_binder": "d2._runtime.binding",
    "push_state": "d2._runtime.context",
    "reset_state": "d2._runtime.context",
    "record_refusal": "d2._runtime.events",
    "compile_restriction": "d2._runtime.restrict",
    "joined_state": "d2._runtime.session",
    "parse_stream_address": "d2._runtime.stream",
    "DEFAULT_AUDIENCE": "d2._sources.bundle",
    "sign_bundle": "d2._sources.bundle",
    "verify_bundle": "d2._sources.bundle",
    "bundle_source": "d2._sources.cloud",
    "cloud_config": "d2._sources.cloud",
    "DEVELOPER_TOKEN": "d2._sources.cloud_http",
    "RUNTIME_TOKEN": "d2._sources.cloud_http",
    "HttpError": "d2._sources.cloud_http",
    "Response": "d2._sources.cloud_http",
    "http_get": "d2._sources.cloud_http",
    "http_request": "d2._sources.cloud_http",
    "default_state_path": "d2._sources.cloud_state",
    "POLICY_NAMES": "d2._sources.discovery",
    "discover_policy": "d2._sources.discovery",
    "xdg_policy_dir": "d2._sources.discovery",
    "generate_private_key": "d2._sources.jwks",
    "jwks_document": "d2._sources.jwks",
    "key_id": "d2._sources.jwks",
    "load_private_key": "d2._sources.jwks",
    "parse_jwks": "d2._sources.jwks",
    "private_key_pem": "d2._sources.jwks",
    "public_jwk": "d2._sources.jwks",
    "joined_target": "d2._sources.session_state",
    "refusing_log": "d2._sources.session_state",
    "seal_log": "d2._sources.session_state",
    "session_log": "d2._sources.session_state",
}

__all__ = [
    "DEFAULT_AUDIENCE",
    "DEVELOPER_TOKEN",
    "POLICY_NAMES",
    "RUNTIME_TOKEN",
    "UNSEEN",
    "Binder",
    "CompileResult",
    "CompiledPolicy",
    "Diagnostic",
    "Grant",
    "HttpError",
    "JsonPath",
    "Location",
    "MissingAttribute",
    "RequestLog",
    "RequestState",
    "RequestValues",
    "Response",
    "Severity",
    "SourceDoc",
    "Unseen",
    "UserContext",
    "apply_output",
    "authorize",
    "bundle_source",
    "cloud_config",
    "compile_binder",
    "compile_policy",
    "compile_restriction",
    "default_state_path",
    "deny",
    "discover_policy",
    "generate_private_key",
    "http_get",
    "http_request",
    "joined_state",
    "joined_target",
    "jwks_document",
    "key_id",
    "load_private_key",
    "load_schema",
    "max_bytes_from_env",
    "missing_attribute",
    "origins_of",
    "parse_jwks",
    "parse_policy_file",
    "parse_policy_text",
    "parse_stream_address",
    "private_key_pem",
    "public_jwk",
    "push_state",
    "record_refusal",
    "refusing_log",
    "reset_state",
    "same",
    "schema_diagnostics",
    "seal_log",
    "session_log",
    "share_facts",
    "sign_bundle",
    "suggest",
    "track_output",
    "verify_bundle",
    "xdg_policy_dir",
]


def __getattr__(name: str) -> Any:
    """Import ``name``'s module on first use and keep the value here for the next lookup."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
