"""Sentinel keys the guard and the input conditions share outside the parameter namespace.

``CALL`` (in the bound arguments) holds the call's own keyword dict; ``CHECKED`` (in that dict) the
bound arguments once a checked value was replaced by its snapshot. Kept here, below both, so the guard
does not import the condition compiler to name them.

An :class:`Unseen` is an argument *value* standing for one the guard cannot check: ``UNSEEN`` when the
caller did not pass the argument and the tool will pick its own value (an MCP server's undeclared
default), or one carrying what was sent when it does not have the type the tool declares. An input
condition on it refuses the call; a caller that puts one in must take it out (or put ``sent`` back)
before the tool runs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CALL", "CHECKED", "UNSEEN", "Unseen"]

CALL: Any = type("Call", (), {"__repr__": lambda self: "<call>"})()
CHECKED: Any = type("Checked", (), {"__repr__": lambda self: "<checked>"})()


class Unseen:
    """An argument value no input condition may pass: ``why`` completes "parameter 'x' ..."."""

    __slots__ = ("sent", "why")

    def __init__(self, why: str, sent: Any = None) -> None:
        self.why = why
        self.sent = sent

    def __repr__(self) -> str:
        return f"<unseen: {self.why}>"


UNSEEN = Unseen(
    "was not passed and the tool picks its own value, which this condition cannot check; pass it explicitly"
)
