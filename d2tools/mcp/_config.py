"""The proxy's configuration: upstream servers, who the caller is, and how HTTP callers prove it.

One YAML file (``--config``) or command-line flags build the same :class:`ProxyConfig`; relative
paths in the file are resolved against the file's directory, so a config works from any cwd.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from d2 import ConfigurationError

__all__ = ["AuthSpec", "IdentitySpec", "ProxyConfig", "UpstreamSpec", "load_config", "parse_listen"]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_TOP_KEYS = frozenset(
    {"policy", "tool_id", "upstreams", "identity", "auth", "listen", "decision_log", "session_state"}
)
_UPSTREAM_KEYS = frozenset({"name", "command", "url", "env", "cwd", "headers", "timeout"})
# d2.configure_session_state's settings; the signing keys stay in the environment (D2_SESSION_KEY).
_STATE_KEYS = frozenset(
    {"url", "ttl", "max_calls", "max_labels", "timeout", "degraded", "max_local_sessions", "reference_ttl"}
)
_AUTH_KEYS = frozenset(
    {"jwks", "issuer", "audience", "algorithms", "user_claim", "roles_claim", "attributes", "resource_url"}
)


DEFAULT_ALGORITHMS = ("RS256", "ES256", "EdDSA")


@dataclass(frozen=True, slots=True)
class UpstreamSpec:
    """One MCP server behind the proxy: a command to start (stdio) or a URL (streamable HTTP)."""

    name: str
    command: tuple[str, ...] = ()
    url: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 30.0
    # An in-process ``mcp`` server object instead of a command or URL (embedding, tests).
    server: Any = None


@dataclass(frozen=True, slots=True)
class IdentitySpec:
    """The caller on stdio (a desktop client's config names who runs the agent)."""

    user: str | None = None
    roles: tuple[str, ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuthSpec:
    """How an HTTP caller's OAuth bearer token is verified and mapped to a d2 user."""

    jwks: str
    issuer: str
    audience: str
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    user_claim: str = "sub"
    roles_claim: str = "roles"
    attributes: Mapping[str, str] = field(default_factory=dict)
    resource_url: str | None = None


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    """Everything the proxy needs to start."""

    policy: str | None
    upstreams: tuple[UpstreamSpec, ...]
    identity: IdentitySpec = IdentitySpec()
    auth: AuthSpec | None = None
    tool_id: str = "{server}.{tool}"
    listen: tuple[str, int] | None = None
    decision_log: str | None = None
    # Keyword arguments for d2.configure_session_state (empty: the environment decides).
    session_state: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.upstreams:
            raise ConfigurationError(
                "mcp-proxy: no upstream server; give a command after '--', --upstream URL, "
                "or an 'upstreams:' list in --config"
            )
        names = [u.name for u in self.upstreams]
        for name in names:
            if not isinstance(name, str) or not _NAME.match(name):
                # A name is a tool-id prefix: a dot or a format field would let two servers' tools
                # share an id ("a" tool "b.c" and "a.b" tool "c").
                raise ConfigurationError(
                    f"mcp-proxy: upstream name {name!r} must be a short identifier (a letter, then "
                    "letters, digits, _ or -; at most 64): give --name NAME"
                )
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigurationError(
                f"mcp-proxy: upstream names must be unique; repeated: {', '.join(dupes)}"
            )
        if self.listen is None and not self.identity.user:
            # stdio serves one configured caller; 'auth:' (bearer tokens) applies only over HTTP.
            raise ConfigurationError(
                "mcp-proxy: name the caller the policy decides for: --user ID and --role ROLE "
                "(or 'identity: {user: ..., roles: [...]}' in --config); a stdio proxy serves that one "
                "caller, and 'auth:' applies only over HTTP (--listen)"
            )
        if self.auth is None and not self.identity.user:
            raise ConfigurationError(
                "mcp-proxy: name the caller the policy decides for: --user ID and --role ROLE "
                "(or 'identity:' in --config); over HTTP, configure bearer-token 'auth:' instead"
            )
        if "{tool}" not in self.tool_id or (len(self.upstreams) > 1 and "{server}" not in self.tool_id):
            raise ConfigurationError(
                f"mcp-proxy: tool_id {self.tool_id!r} must contain {{tool}} (and {{server}} when there are "
                "several upstreams), e.g. '{server}.{tool}'"
            )


def parse_listen(text: str) -> tuple[str, int]:
    """``127.0.0.1:8765`` → (host, port); a usage error names the expected shape."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(f"mcp-proxy: --listen {text!r} is not HOST:PORT (e.g. 127.0.0.1:8765)")
    return host.strip("[]"), int(port)


def _where(path: Path, key: str) -> str:
    return f"{path}: '{key}'"


def _unknown(path: Path, section: str, got: Mapping[str, Any], allowed: frozenset[str]) -> None:
    extra = sorted(str(k) for k in got if k not in allowed and not str(k).startswith("x-"))
    if extra:
        raise ConfigurationError(
            f"{path}: unknown key(s) in {section}: {', '.join(extra)}; "
            f"expected one of {', '.join(sorted(allowed))}"
        )


def _resolve(base: Path, value: str) -> str:
    """Resolve a relative file path against the config file's directory; leave URLs alone."""
    if "://" in value:
        return value
    p = Path(value)
    return str(p if p.is_absolute() else (base / p))


def _upstream(path: Path, raw: Any, index: int) -> UpstreamSpec:
    if not isinstance(raw, Mapping):
        raise ConfigurationError(
            f"{path}: upstreams[{index}] must be a mapping with 'name' and 'command' or 'url'"
        )
    _unknown(path, f"upstreams[{index}]", raw, _UPSTREAM_KEYS)
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigurationError(
            f"{path}: upstreams[{index}].name {name!r} must be a short identifier (letters, digits, _ -)"
        )
    command = raw.get("command")
    url = raw.get("url")
    if (command is None) == (url is None):
        raise ConfigurationError(f"{path}: upstream '{name}' needs exactly one of 'command' or 'url'")
    if isinstance(command, str):
        import shlex

        command = shlex.split(command)
    if command is not None and (not isinstance(command, Sequence) or not command):
        raise ConfigurationError(f"{path}: upstream '{name}'.command must be a non-empty list or string")
    cwd = raw.get("cwd")
    return UpstreamSpec(
        name=name,
        command=tuple(str(c) for c in command or ()),
        url=str(url) if url is not None else None,
        env={str(k): str(v) for k, v in (raw.get("env") or {}).items()},
        cwd=_resolve(path.parent, str(cwd)) if cwd is not None else str(path.parent),
        headers={str(k): str(v) for k, v in (raw.get("headers") or {}).items()},
        timeout=float(raw.get("timeout", 30.0)),
    )


def _auth(path: Path, raw: Any) -> AuthSpec | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{_where(path, 'auth')} must be a mapping (jwks, issuer, audience, ...)")
    _unknown(path, "auth", raw, _AUTH_KEYS)
    missing = [k for k in ("jwks", "issuer", "audience") if not raw.get(k)]
    if missing:
        raise ConfigurationError(
            f"{path}: auth needs {', '.join(missing)} (the token's JWKS, 'iss' and 'aud')"
        )
    algorithms = raw.get("algorithms") or DEFAULT_ALGORITHMS
    return AuthSpec(
        jwks=_resolve(path.parent, str(raw["jwks"])),
        issuer=str(raw["issuer"]),
        audience=str(raw["audience"]),
        algorithms=tuple(str(a) for a in algorithms),
        user_claim=str(raw.get("user_claim", "sub")),
        roles_claim=str(raw.get("roles_claim", "roles")),
        attributes={str(k): str(v) for k, v in (raw.get("attributes") or {}).items()},
        resource_url=str(raw["resource_url"]) if raw.get("resource_url") else None,
    )


def identity_from(raw: Any, where: str) -> IdentitySpec:
    """Build the configured stdio identity; roles must be a list of names."""
    if raw is None:
        return IdentitySpec()
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{where}: identity must be a mapping (user, roles, attributes)")
    roles = raw.get("roles") or ()
    if isinstance(roles, str) or not isinstance(roles, Sequence):
        raise ConfigurationError(f"{where}: identity.roles must be a list of role names")
    attributes = raw.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        raise ConfigurationError(f"{where}: identity.attributes must be a mapping")
    user = raw.get("user")
    return IdentitySpec(
        str(user) if user is not None else None, tuple(str(r) for r in roles), dict(attributes)
    )


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a proxy config file into keyword arguments for :class:`ProxyConfig`."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    file = Path(path).resolve()
    try:
        raw = YAML(typ="safe").load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"mcp-proxy: cannot read --config {path}: {exc.strerror}") from exc
    except YAMLError as exc:
        raise ConfigurationError(f"mcp-proxy: {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{file}: a proxy config is a mapping (policy, upstreams, identity, auth)")
    _unknown(file, "the top level", raw, _TOP_KEYS)
    ups = raw.get("upstreams") or []
    if not isinstance(ups, Sequence) or isinstance(ups, str):
        raise ConfigurationError(f"{_where(file, 'upstreams')} must be a list")
    out: dict[str, Any] = {
        "upstreams": tuple(_upstream(file, u, i) for i, u in enumerate(ups)),
        "identity": identity_from(raw.get("identity"), str(file)),
        "auth": _auth(file, raw.get("auth")),
    }
    if raw.get("policy"):
        out["policy"] = _resolve(file.parent, str(raw["policy"]))
    if raw.get("tool_id"):
        out["tool_id"] = str(raw["tool_id"])
    if raw.get("listen"):
        out["listen"] = parse_listen(str(raw["listen"]))
    if raw.get("decision_log"):
        out["decision_log"] = _resolve(file.parent, str(raw["decision_log"]))
    state = raw.get("session_state")
    if state is not None:
        if not isinstance(state, Mapping):
            raise ConfigurationError(f"{_where(file, 'session_state')} must be a mapping (url, ttl, ...)")
        _unknown(file, "session_state", state, _STATE_KEYS)
        out["session_state"] = {str(k): v for k, v in state.items() if not str(k).startswith("x-")}
    return out
