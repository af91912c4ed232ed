"""Request bodies read up to a limit and parsed as strict JSON, so malformed input is a 4xx, never a 500.

A body is read from the stream and abandoned as soon as it passes its limit (a declared
``Content-Length`` over the limit is refused before reading a byte). JSON is strict: no ``NaN`` or
``Infinity``, no number that overflows a float, integers of at most 30 digits, nesting at most
:data:`MAX_DEPTH` deep, and only text that encodes as UTF-8 (no lone surrogates).
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.requests import ClientDisconnect, Request

from .config import ApiError

__all__ = ["MAX_DEPTH", "parse_json", "read_body"]

MAX_DEPTH = 64
_MAX_INT_DIGITS = 30


async def read_body(request: Request, limit: int) -> bytes:
    """Return the request body, refusing with 413 the moment it is known to pass ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        declared = declared.strip()
        if not declared.isdigit() or len(declared) > 18:
            raise ApiError(400, "bad_length", "Content-Length must be a plain byte count")
        if int(declared) > limit:
            raise _too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(size, limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise ApiError(400, "incomplete_body", "the client closed the connection mid-body") from None
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> ApiError:
    return ApiError(
        413, "too_large", f"request body is over the {limit}-byte limit (at least {size} bytes): send less"
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number d2 accepts")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} overflows")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise ValueError(f"integer of {len(text)} digits is too large")
    return int(text)


def parse_json(raw: bytes, *, what: str = "the request body") -> Any:
    """Parse strict JSON; every way it can be malformed is an :class:`ApiError` 400 that says which."""
    try:
        data = json.loads(
            raw, parse_constant=_reject_constant, parse_float=_finite_float, parse_int=_bounded_int
        )
    except RecursionError:
        raise ApiError(400, "too_deep", f"{what} is nested too deeply (at most {MAX_DEPTH} levels)") from None
    except UnicodeDecodeError:
        raise ApiError(400, "bad_text", f"{what} is not valid UTF-8") from None
    except ValueError as exc:
        raise ApiError(400, "bad_json", f"{what} must be strict JSON: {str(exc)[:120]}") from None
    _check(data, what)
    return data


def _check(data: Any, what: str) -> None:
    """Walk without recursion: bound the depth and refuse strings that are not encodable text."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ApiError(400, "too_deep", f"{what} is nested too deeply (at most {MAX_DEPTH} levels)")
        if isinstance(value, str):
            _text(value, what)
        elif isinstance(value, dict):
            for key, item in value.items():
                _text(key, what)
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


def _text(value: str, what: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(
            400, "bad_text", f"{what} holds a lone surrogate (\\ud800-\\udfff); send valid Unicode text"
        ) from None
