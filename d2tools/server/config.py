"""Settings of one control-plane process, and the error type its handlers raise."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from d2._toolkit import DEFAULT_AUDIENCE

__all__ = ["ApiError", "ServerConfig"]


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """How the server stores, signs, caches and throttles."""

    db: str
    schema: str | None = None
    host: str = "127.0.0.1"
    port: int = 8787
    audience: str = DEFAULT_AUDIENCE
    issuer: str | None = None
    bundle_ttl: int = 7 * 86400
    poll_interval: float = 30.0
    cache_ttl: float = 1.0
    ingest_rate: float = 20.0
    ingest_burst: int = 40
    require_device_key: bool = False
    max_policy_bytes: int = 4 * 1024 * 1024


@dataclass
class ApiError(Exception):
    """An HTTP error answer: status, a machine-readable ``detail`` code and a sentence for people."""

    status: int
    detail: str
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.detail}: {self.message}"
