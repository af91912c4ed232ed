"""Framework adapters: guard the tools of LangChain, the OpenAI Agents SDK, Pydantic AI and FastMCP.

Each adapter is its own module and imports its framework only when used, so ``import d2`` (and this
package) pulls in none of them. Install the matching extra, e.g. ``pip install 'd2-guard[langchain]'``.
"""

from __future__ import annotations

from ._refusal import Refusal, refusal_for

__all__ = ["Refusal", "refusal_for"]
