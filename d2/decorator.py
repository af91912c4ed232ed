"""The guard decorator under the vendor SDK's ``d2.decorator`` module path (also ``d2.d2_guard``)."""

from __future__ import annotations

from d2._runtime.guard import d2_guard

d2 = d2_guard

__all__ = ["d2", "d2_guard"]
