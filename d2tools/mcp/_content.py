"""Turn an MCP tool result into the value output rules see, and a sanitized value back into a result.

Output rules are written against values (``ssn: {action: filter}``), so the proxy hands the guard:

- ``structuredContent`` when the server sent it (and rewrites the text copy from the sanitized value,
  so the unsanitized JSON never reaches the client beside the sanitized one);
- otherwise the text: one block → its JSON object/array when it parses as one, else the string;
  several blocks → a list of those, so a bare field rule applies to every block;
- any non-text block (image, audio, embedded resource) stays an opaque object: with no output rule
  it passes through untouched, with one the guard cannot see inside it and refuses the result.

The mapping is written once (:func:`_value`, :func:`_rebuild`) and read two ways: over the SDK's
``CallToolResult`` model (``to_value``/``from_value``, used by the FastMCP middleware) and over the
wire form of a result (``wire_value``/``wire_from_value``), which the proxy forwards without
building a model: the ``mcp`` client has already checked the upstream's result against the
negotiated protocol version, and the ``mcp`` server checks what the proxy returns against the
client's version before it is written, so a model in between would only parse and dump it again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from mcp_types import CallToolResult, TextContent

__all__ = [
    "UncheckedBlocks",
    "WireResult",
    "from_value",
    "prompt_from_value",
    "prompt_value",
    "require_unicode",
    "resource_from_value",
    "resource_value",
    "to_value",
    "wire_from_value",
    "wire_value",
]

WireResult = dict[str, Any]


class OpaqueBlock:
    """A non-text content block in wire form, wrapped so output rules cannot walk into it.

    A plain dict would be data to the guard: a field rule would reach into an image's ``data`` or a
    resource's ``text``. Wrapped, it is an object d2 cannot inspect, exactly like the SDK's block
    models: passed through when no output rule applies, refused when one does.
    """

    __slots__ = ("block",)

    def __init__(self, block: Any) -> None:
        self.block = block

    def __repr__(self) -> str:
        kind = self.block.get("type") if isinstance(self.block, dict) else type(self.block).__name__
        return f"<{kind} content block>"


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
    """Text for a sanitized value; always encodable (a lone surrogate would kill the SDK's writer)."""
    if isinstance(value, str):
        require_unicode(value)
        return value
    text = json.dumps(value, ensure_ascii=False)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a "\ud800" escape: keep it escaped
            return json.dumps(value)
    return text


def require_unicode(tree: Any) -> None:
    """Raise :class:`UncheckedBlocks` if any string in ``tree`` cannot be written as UTF-8.

    JSON lets a server send a lone surrogate (``"\ud800"``); Python keeps it in the ``str``, and the
    SDK's writer then fails on the whole connection, not on one answer. Every answer the proxy hands
    the SDK passes through here first, so such a result is withheld instead.
    """
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    raise UncheckedBlocks("the result holds text that is not valid Unicode") from None
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _is_data(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, dict, list)) or value is None


def _value(structured: Any, blocks: Sequence[Any], item: Callable[[Any], Any]) -> Any:
    """The one value output rules see: the structured content, else the block (or list of blocks)."""
    if structured is not None:
        return structured
    items = [item(b) for b in blocks]
    if len(items) == 1:
        return items[0]
    return items


def _rebuild(
    structured: Any,
    blocks: Sequence[Any],
    value: Any,
    text_block: Callable[[str], Any],
    is_text: Callable[[Any], bool],
    block_of: Callable[[Any], Any],
) -> tuple[Any, list[Any]]:
    """``(structured, content)`` of a result rebuilt around the sanitized ``value``.

    Structured results get the sanitized object and a text copy of it (non-text blocks kept); text
    results get one block per remaining item, data as JSON text, opaque items as they came.
    """
    if structured is not None:
        new = value if isinstance(value, dict) else {"result": value}
        return new, [text_block(_dump(new)), *(b for b in blocks if not is_text(b))]
    items = value if len(blocks) != 1 and isinstance(value, list) else [value]
    return None, [text_block(_dump(v)) if _is_data(v) else block_of(v) for v in items]


# -- the SDK's model -------------------------------------------------------------------------------


def _model_item(block: Any) -> Any:
    return _parse(block.text) if isinstance(block, TextContent) else block


def to_value(result: CallToolResult) -> Any:
    """The model-visible payload of ``result`` as one value for output rules."""
    return _value(result.structured_content, result.content, _model_item)


def from_value(result: CallToolResult, value: Any) -> CallToolResult:
    """Rebuild ``result`` around the sanitized ``value`` (``result`` itself when nothing changed)."""
    original = to_value(result)
    if value is original or value == original:
        return result
    structured, content = _rebuild(
        result.structured_content,
        result.content,
        value,
        lambda text: TextContent(type="text", text=text),
        lambda block: isinstance(block, TextContent),
        lambda item: item,
    )
    if structured is not None:
        return CallToolResult(content=content, structured_content=structured, is_error=result.is_error)
    return CallToolResult(content=content, is_error=result.is_error)


# -- the wire form ---------------------------------------------------------------------------------


def _wire_is_text(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)


def _wire_text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _wire_block(item: Any) -> Any:
    """The wire block of an item the guard left opaque; anything else is a fault (the call is refused)."""
    if isinstance(item, OpaqueBlock):
        return item.block
    raise TypeError(f"a sanitized tool result holds a {type(item).__name__}, which is no content block")


def _wire_item(block: Any) -> Any:
    return _parse(block["text"]) if _wire_is_text(block) else OpaqueBlock(block)


def wire_value(wire: WireResult) -> Any:
    """The model-visible payload of a wire-form ``CallToolResult`` as one value for output rules."""
    return _value(wire.get("structuredContent"), wire["content"], _wire_item)


class UncheckedBlocks(Exception):
    """Non-text blocks beside structured content while output rules are in play: no rule saw them."""


def wire_from_value(wire: WireResult, original: Any, value: Any, *, rules: bool = False) -> WireResult:
    """Rebuild ``wire`` around the sanitized ``value``; ``wire`` itself when nothing changed.

    ``original`` is what :func:`wire_value` returned for ``wire`` (so it is not parsed twice). A
    rebuilt result keeps only what the sanitized value says, as the model path does: its content,
    structured content and error flag.

    ``rules``: output rules are in play for this call. The client then gets only what the rules
    read, always rebuilt from the sanitized value, even when nothing changed: never the server's
    own text beside structured content (it may say more, and no rule read it; non-text blocks beside
    it raise :class:`UncheckedBlocks`), never its ``_meta`` or a block's ``_meta``/annotations, and
    never raw JSON text whose duplicate keys the parser collapsed (the rules saw one value, the raw
    text holds both).
    """
    structured = wire.get("structuredContent")
    if not rules and (value is original or value == original):
        return wire
    if rules and structured is not None and any(not _wire_is_text(b) for b in wire["content"]):
        raise UncheckedBlocks("non-text content beside structured content, which output rules do not see")
    structured, content = _rebuild(structured, wire["content"], value, _wire_text, _wire_is_text, _wire_block)
    rebuilt: WireResult = {
        "content": content,
        "isError": wire.get("isError") is True,
        "resultType": "complete",
    }
    if structured is not None:
        rebuilt["structuredContent"] = structured
    return rebuilt


# -- prompts and resources (wire form) -------------------------------------------------------------
#
# A ``prompts/get`` result is read as its messages' content blocks and a ``resources/read`` result as
# its contents, with the same mapping as a text-only tool result: text is data (JSON parsed), anything
# else (images, audio, embedded resources, blobs) is opaque, so output rules refuse it.


def _positional(count: int, value: Any) -> list[Any]:
    """The sanitized items, one per original block; a changed count is a fault (the call is refused)."""
    items = value if count != 1 and isinstance(value, list) else [value]
    if len(items) != count:
        raise UncheckedBlocks("output rules changed the number of blocks; positions no longer match")
    return items


def prompt_value(wire: WireResult) -> Any:
    """The text of a wire-form ``GetPromptResult``'s messages as one value for output rules."""
    return _value(None, [m["content"] for m in wire["messages"]], _wire_item)


def prompt_from_value(wire: WireResult, original: Any, value: Any, *, rules: bool = False) -> WireResult:
    """Rebuild the prompt around the sanitized ``value``, each message keeping its role.

    With output rules in play the prompt is always rebuilt from the sanitized value: its
    ``description``, ``_meta`` and the messages' own ``_meta`` are dropped (no rule read them).
    """
    if not rules and (value is original or value == original):
        return wire
    messages = wire["messages"]
    items = _positional(len(messages), value)
    rebuilt = [
        {"role": m["role"], "content": _wire_text(_dump(v)) if _is_data(v) else _wire_block(v)}
        for m, v in zip(messages, items, strict=True)
    ]
    return {"messages": rebuilt, "resultType": "complete"}


def _resource_item(contents: Any) -> Any:
    text = contents.get("text") if isinstance(contents, dict) else None
    return _parse(text) if isinstance(text, str) else OpaqueBlock(contents)


def resource_value(wire: WireResult) -> Any:
    """The text contents of a wire-form ``ReadResourceResult`` as one value (blobs stay opaque)."""
    return _value(None, wire["contents"], _resource_item)


def resource_from_value(wire: WireResult, original: Any, value: Any, *, rules: bool = False) -> WireResult:
    """Rebuild the contents around the sanitized ``value``, each keeping its ``uri`` and ``mimeType``.

    With output rules in play the contents are always rebuilt (no ``_meta`` no rule read).
    """
    if not rules and (value is original or value == original):
        return wire
    contents = wire["contents"]
    rebuilt: list[Any] = []
    for old, item in zip(contents, _positional(len(contents), value), strict=True):
        if not _is_data(item):
            rebuilt.append(_wire_block(item))
            continue
        kept = {k: old[k] for k in ("uri", "mimeType") if k in old}
        rebuilt.append({**kept, "text": _dump(item)})
    return {"contents": rebuilt, "resultType": "complete"}
