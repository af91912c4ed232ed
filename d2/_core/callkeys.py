"""Sentinel keys the guard and the input conditions share outside the parameter namespace.

``CALL`` (in the bound arguments) holds the call's own keyword dict; ``CHECKED`` (in that dict) the
bound arguments once a checked value was replaced by its snapshot. Kept here, below both, so the guard
does not import the condition compiler to name them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CALL", "CHECKED"]

CALL: Any = type("Call", (), {"__repr__": lambda self: "<call>"})()
CHECKED: Any = type("Checked", (), {"__repr__": lambda self: "<checked>"})()
