"""Sentinel keys the guard and the input conditions share outside the parameter namespace.

``CALL`` (in the bound arguments) holds the call's own keyword dict; ``CHECKED`` (in that dict) the
bound arguments once a checked value was replaced by its snapshot. Kept here, below both, so the guard
does not import the condition compiler to name them.

``UNSEEN`` is an argument *value*: the caller did not pass the argument and the tool will pick its own
value, which the guard cannot see (an MCP server's undeclared default). An input condition on it
refuses the call; a caller that puts it in must take it out before the tool runs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CALL", "CHECKED", "UNSEEN"]

CALL: Any = type("Call", (), {"__repr__": lambda self: "<call>"})()
CHECKED: Any = type("Checked", (), {"__repr__": lambda self: "<checked>"})()
UNSEEN: Any = type("Unseen", (), {"__repr__": lambda self: "<not passed>", "__slots__": ()})()
