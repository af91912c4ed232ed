"""Request values and provenance from application code: what the user asked, what came from outside.

``set_request_values(instruction=..., ids=[...])`` records the user's own request once, when it
starts; ``in_request`` and ``not_from ... unless_in_request`` read it. ``record_untrusted`` adds
content the application read itself (outside a guarded tool) to the request's provenance record,
as a guarded tool with an untrusted label does for its results.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from d2._core.origins import RequestValues, origins_of
from d2._runtime.context import current_state
from d2.exceptions import ConfigurationError, D2NoContextError

__all__ = ["get_request_values", "record_untrusted", "set_request_values"]


def set_request_values(**values: Any) -> None:
    """Record the user's own request: a text each (``instruction=``) or a collection of ids (``ids=``).

    Call it once, when the request starts, with values taken from the user, never from a model or a
    tool: a second call in the same request raises ConfigurationError (a new user turn is a new
    request: ``set_user_context``/``run_as``).
    """
    state = current_state()
    if state is None:
        raise D2NoContextError("cannot set request values outside a request; set a user context first")
    if not values:
        raise TypeError("set_request_values() needs at least one value, e.g. instruction='...'")
    prepared = RequestValues.from_arguments(values)
    origins = origins_of(state.log)
    with state.log.lock:
        if origins.request is not None:
            raise ConfigurationError(
                "request values are already set for this request; set them once, when the request "
                "starts (start a new request with set_user_context() or run_as() for a new user turn)"
            )
        origins.request = prepared


def get_request_values() -> Mapping[str, str | frozenset[str]]:
    """Return the current request's values (empty outside a request or before they are set)."""
    state = current_state()
    origins = getattr(state.log, "origins", None) if state is not None else None
    if origins is None or origins.request is None:
        return MappingProxyType({})
    return MappingProxyType(dict(origins.request.values))


def record_untrusted(value: Any, label: str) -> None:
    """Remember the values inside ``value`` as seen in untrusted content labelled ``label``."""
    if not isinstance(label, str) or not label:
        raise TypeError(f"an untrusted-content label must be a non-empty string, got {label!r}")
    state = current_state()
    if state is None:
        raise D2NoContextError("cannot record untrusted content outside a request; set a user context first")
    origins_of(state.log).provenance.record((label,), value, state.log.lock)
