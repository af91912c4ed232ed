"""Turn an MCP tool result into the value output rules see, and a sanitized value back into a result.

Output rules are written against values (``ssn: {action: filter}``), so the proxy hands the guard:

- ``structuredContent`` when the server sent it (and rewrites the text copy from the sanitized value,
  so the unsanitized JSON never reaches the client beside the sanitized one);
- otherwise the text: one block → its JSON object/array when it parses as one, else the string;
  several blocks → a list of those, so a bare field rule applies to every block;
- any non-text block (image, audio, embedded resource) stays an opaque object: with no output rule
  it passes through untouched, with one the guard cannot see inside it and refuses the result.
"""

from __future__ import annotations

import json
from typing import Any

from mcp_types import CallToolResult, TextContent

__all__ = ["from_value", "to_value"]


def _parse(text: str) -> Any:
    """A JSON object or array as data; anything else stays the string it is."""
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _dump(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def to_value(result: CallToolResult) -> Any:
    """The model-visible payload of ``result`` as one value for output rules."""
    if result.structured_content is not None:
        return result.structured_content
    blocks = [_parse(b.text) if isinstance(b, TextContent) else b for b in result.content]
    if len(blocks) == 1:
        return blocks[0]
    return blocks


def from_value(result: CallToolResult, value: Any) -> CallToolResult:
    """Rebuild ``result`` around the sanitized ``value`` (``result`` itself when nothing changed)."""
    original = to_value(result)
    if value is original or value == original:
        return result
    if result.structured_content is not None:
        structured = value if isinstance(value, dict) else {"result": value}
        others = [b for b in result.content if not isinstance(b, TextContent)]
        return CallToolResult(
            content=[TextContent(type="text", text=_dump(structured)), *others],
            structured_content=structured,
            is_error=result.is_error,
        )
    items = value if len(result.content) != 1 and isinstance(value, list) else [value]
    content = [TextContent(type="text", text=_dump(v)) if _is_data(v) else v for v in items]
    return CallToolResult(content=content, is_error=result.is_error)


def _is_data(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, dict, list)) or value is None
