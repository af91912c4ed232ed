"""A small HTTP layer for cloud mode: capped bodies, and errors that say which token a request needs.

httpx is imported inside :func:`http_get`/:func:`http_request`, so ``import d2`` never pays for it.
Status codes map to errors as the docs promise: 402 -> :class:`D2PlanLimitError`; 401/403 name the
token type the endpoint wants; 429 and 503 carry ``Retry-After`` for the caller's backoff.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from d2.exceptions import D2Error, D2PlanLimitError

__all__ = ["HttpError", "PlanLimitHttpError", "Response", "http_get", "http_request"]

MAX_BODY_BYTES = 24 * 1024 * 1024
RUNTIME_TOKEN = "a runtime token (d2_rt_..., scope policy:read) or a developer token for this app"
DEVELOPER_TOKEN = "a developer token (d2_dev_..., scope policy:write)"


@dataclass(frozen=True, slots=True)
class Response:
    """Status, lower-cased headers and the (size-capped) body of one HTTP response."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header_float(self, name: str) -> float | None:
        raw = self.headers.get(name.lower())
        try:
            return float(raw) if raw is not None else None
        except ValueError:
            return None

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise D2Error(f"expected JSON, got {self.body[:80]!r}") from None

    @property
    def detail(self) -> str:
        """The server's error detail (``{"detail": ..., "message": ...}``), or the body's start."""
        try:
            data = json.loads(self.body)
        except ValueError:
            return self.body[:200].decode("utf-8", "replace")
        if isinstance(data, dict):
            return str(data.get("message") or data.get("detail") or data)
        return str(data)


class HttpError(D2Error):
    """A request to the control plane or bundle host failed; ``status`` is 0 when none answered."""

    def __init__(self, message: str, *, status: int = 0, retry_after: float | None = None) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(message)

    @classmethod
    def from_response(cls, response: Response, url: str, *, need: str = RUNTIME_TOKEN) -> HttpError:
        """Turn an unexpected status into an error that says what went wrong and how to fix it."""
        status, detail = response.status, response.detail
        retry = response.header_float("Retry-After")
        if status == 401:
            text = f"{url} refused the token (401: {detail}); it needs {need}: check D2_TOKEN"
        elif status == 403:
            text = f"{url} forbids this token (403: {detail}); it needs {need}"
        elif status == 402:
            return PlanLimitHttpError(f"{url}: plan limit reached (402: {detail})", status=402)
        elif status == 404:
            text = f"{url}: nothing published yet (404: {detail})"
        elif status == 429:
            text = f"{url}: rate limited (429), retry after {retry or 0:.0f}s"
        else:
            text = f"{url} answered {status}: {detail}"
        return cls(text, status=status, retry_after=retry)


class PlanLimitHttpError(HttpError, D2PlanLimitError):
    """HTTP 402 from a control plane: a plan limit, not retried."""


_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def http_request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    timeout: float = 10.0,
) -> Response:
    """Send one request; the body is read up to MAX_BODY_BYTES; network failures become HttpError.

    Redirects are followed only within the URL's own origin (scheme, host, port), at most five: a
    redirect elsewhere would hand the answer, and the bearer token, to another host.
    """
    import httpx

    target = url
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            for _ in range(_MAX_REDIRECTS + 1):
                response = _send(client, method, target, headers, content)
                location = response.headers.get("location")
                if response.status not in _REDIRECTS or not location:
                    return response
                following = urljoin(target, location)
                if _origin(following) != _origin(url):
                    raise HttpError(
                        f"{url} redirects to another origin ({following}); d2 follows redirects only within "
                        "one origin: point the URL at the final location",
                        status=response.status,
                    )
                target = following
                if response.status == 303:
                    method, content = "GET", None
    except httpx.HTTPError as exc:
        raise HttpError(f"cannot reach {target}: {type(exc).__name__}: {exc}") from None
    raise HttpError(f"{url}: more than {_MAX_REDIRECTS} redirects")


def _send(
    client: Any, method: str, url: str, headers: Mapping[str, str] | None, content: bytes | None
) -> Response:
    with client.stream(method, url, headers=dict(headers or {}), content=content) as resp:
        chunks: list[bytes] = []
        size = 0
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise HttpError(
                    f"{url}: response larger than {MAX_BODY_BYTES} bytes", status=resp.status_code
                )
            chunks.append(chunk)
        lowered = {k.lower(): v for k, v in resp.headers.items()}
        return Response(resp.status_code, lowered, b"".join(chunks))


def http_get(url: str, *, headers: Mapping[str, str] | None = None, timeout: float = 10.0) -> Response:
    """GET ``url`` (see :func:`http_request`)."""
    return http_request("GET", url, headers=headers, timeout=timeout)
