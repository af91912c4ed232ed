"""Compose YAML into nodes under hard limits, and convert the nodes into plain data with positions.

Untrusted policy text reaches this module (draft uploads, ``d2 lint`` on a pull request), so it
bounds the two ways a small text can cost a lot: nesting (libyaml's composer recurses in C, and its
scanner slows quadratically with flow depth) is refused as it is composed, before the deep part is
scanned; alias expansion (a 368-byte "billion laughs" document) is counted while converting, and the
document is refused once it expands beyond its own length plus a small allowance. Both end in a
ConfigurationError that says what, where and how to fix it.

Conversion is the hot part of loading a big policy: scalar tags are resolved once per distinct value
(the resolver is a pure function of the value within one document) and scalars are constructed
without ruamel's generic machinery when their tag is a plain string.
"""

from __future__ import annotations

from typing import Any

from d2._base.diagnostics import Diagnostic, Severity
from d2._lang.positions import POS_SHIFT, Positions

__all__ = ["ALIAS_ALLOWANCE", "MAX_DEPTH", "TreeLimitError", "compose", "convert"]

# A policy nests about ten levels deep; a hundred leaves room for any real document.
MAX_DEPTH = 100
# Expanded nodes allowed beyond the text length: without aliases a document has at most one node per
# character, so only alias reuse can pass this.
ALIAS_ALLOWANCE = 10_000

JsonPath = tuple[str | int, ...]
_STR = "tag:yaml.org,2002:str"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"


class TreeLimitError(Exception):
    """The document nests too deeply or its aliases expand too far (carries the position)."""

    def __init__(self, message: str, line: int, col: int, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col
        self.hint = hint


def _too_deep(mark: Any) -> TreeLimitError:
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    return TreeLimitError(
        f"the document nests deeper than {MAX_DEPTH} levels",
        line,
        col,
        "flatten the structure; a policy needs about ten levels",
    )


def compose(yaml: Any, text: str) -> Any:
    """Compose the single document of ``text`` with ``yaml`` (a ruamel ``YAML``), depth-limited.

    The composer calls ``descend_resolver``/``ascend_resolver`` around every child it composes, in C
    and in pure Python alike; counting there refuses a deep document as soon as it gets too deep.
    """
    depth = 0

    def descend(parent: Any, index: Any) -> None:
        nonlocal depth
        depth += 1
        if depth > MAX_DEPTH:
            raise _too_deep(getattr(parent, "start_mark", None))

    def ascend() -> None:
        nonlocal depth
        depth -= 1

    make = yaml.get_constructor_parser

    def limited(stream: Any) -> Any:
        constructor, parser = make(stream)
        resolver = constructor if constructor is parser else yaml.resolver
        resolver.descend_resolver = descend
        resolver.ascend_resolver = ascend
        resolver.resolve = _memoized(resolver.resolve)
        return constructor, parser

    yaml.get_constructor_parser = limited
    return yaml.compose(text)


def _memoized(resolve: Any) -> Any:
    """Resolve each (kind, value, implicit) once per document; equal tags share one object."""
    memo: dict[tuple[Any, Any, Any], Any] = {}
    shared: dict[str, Any] = {}

    def cached(kind: Any, value: Any, implicit: Any) -> Any:
        key = (kind, value, implicit)
        tag = memo.get(key)
        if tag is None:
            tag = resolve(kind, value, implicit)
            tag = memo[key] = shared.setdefault(str(tag), tag)
        return tag

    return cached


def convert(node: Any, text_length: int, constructor: Any, file: str) -> _Converted:
    """Turn a composed node into plain data with 1-based positions; raise TreeLimitError on a bomb."""
    converted = _Converted(constructor, file, text_length + ALIAS_ALLOWANCE)
    converted.data = converted.node(node, ()) if node is not None else None
    # The constructor memoizes the nodes it built values from (and lives in a reference cycle with
    # its YAML object): forget them, so the node tree is freed as soon as the caller drops it.
    memo = getattr(constructor, "constructed_objects", None)
    if isinstance(memo, dict):
        memo.clear()
    converted.constructor = None
    return converted


class _Converted:
    """Plain data, the positions of every value and key, and duplicate-key problems."""

    def __init__(self, constructor: Any, file: str, budget: int) -> None:
        self.constructor = constructor
        self.file = file
        self.budget = budget
        self.data: Any = None
        self._value_pos: dict[JsonPath, int] = {(): 0}
        self._key_pos: dict[JsonPath, int] = {}
        self.value_pos = Positions(self._value_pos)
        self.key_pos = Positions(self._key_pos)
        self.problems: list[Diagnostic] = []
        self._tags: dict[int, tuple[Any, str]] = {}
        self._scalars: dict[tuple[str, str], Any] = {}
        # The tag object of plain strings (the resolver shares one per document): an identity test
        # finds most values without a lookup. Anything else takes the general path.
        self._str_tag: Any = object()

    def node(self, node: Any, path: JsonPath) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise self._bomb(node)
        mark = node.start_mark
        self._value_pos[path] = mark.line << POS_SHIFT | mark.column
        kind = node.id
        if kind == "scalar":
            return node.value if node.ctag is self._str_tag else self.scalar(node)
        if len(path) >= MAX_DEPTH:
            # Composing bounded the text's nesting; aliases inside aliases can still nest deeper.
            raise _too_deep(mark)
        if kind == "mapping":
            return self._mapping(node, path)
        return [self.node(item, (*path, i)) for i, item in enumerate(node.value)]

    def _tag(self, node: Any) -> str:
        ctag = node.ctag
        found = self._tags.get(id(ctag))
        if found is None:
            # Keep the tag object alive beside its id, so the id cannot be reused within this document.
            found = self._tags[id(ctag)] = (ctag, str(ctag))
            if found[1] == _STR:
                self._str_tag = ctag
        return found[1]

    def scalar(self, node: Any) -> Any:
        tag = self._tag(node)
        if tag == _STR:
            return node.value
        if tag == _TIMESTAMP:
            # Timestamps stay strings: the schema and the expiry parser decide what is valid.
            return str(node.value)
        key = (tag, node.value)
        if key in self._scalars:
            return self._scalars[key]
        value = self._scalars[key] = self._construct(node)
        return value

    def _construct(self, node: Any) -> Any:
        from ruamel.yaml.constructor import ConstructorError

        try:
            value = self.constructor.construct_object(node, deep=True)
        except ConstructorError:
            return str(node.value)  # an unusual YAML 1.1 tag (e.g. `=`): keep the text
        return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)

    def _mapping(self, node: Any, path: JsonPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: set[str] = set()
        key_pos, value_pos = self._key_pos, self._value_pos
        for key_node, value_node in node.value:
            if key_node.id != "scalar":
                key = "<complex key>"
            elif key_node.ctag is self._str_tag:
                key = key_node.value
            else:
                tag = self._tag(key_node)
                if tag == _MERGE:
                    self._merge(self.node(value_node, path), out, merged)
                    continue
                key = key_node.value if tag == _STR else str(self.scalar(key_node))
            child = (*path, key)
            mark = key_node.start_mark
            if key in out and key not in merged:
                self._duplicate(key, child, mark.line + 1, mark.column + 1)
                continue
            if merged:
                merged.discard(key)
            key_pos[child] = mark.line << POS_SHIFT | mark.column
            if value_node.ctag is self._str_tag and value_node.id == "scalar":
                # :meth:`node` inlined for the most common value, a plain string (issue 15).
                self.budget -= 1
                if self.budget < 0:
                    raise self._bomb(value_node)
                mark = value_node.start_mark
                value_pos[child] = mark.line << POS_SHIFT | mark.column
                out[key] = value_node.value
            else:
                out[key] = self.node(value_node, child)
        return out

    @staticmethod
    def _merge(source: Any, out: dict[str, Any], merged: set[str]) -> None:
        """Apply a YAML merge key (``<<: *anchor``): explicit keys win, merged ones fill in."""
        for item in source if isinstance(source, list) else [source]:
            if isinstance(item, dict):
                for k, v in item.items():
                    if k not in out:
                        out[k] = v
                        merged.add(k)

    def _duplicate(self, key: str, path: JsonPath, line: int, col: int) -> None:
        first = self.key_pos.get(path, (line, col))
        self.problems.append(
            Diagnostic(
                "D2E001",
                f"duplicate key '{key}' (first at line {first[0]}); a later value would silently win",
                Severity.ERROR,
                self.file,
                line,
                col,
                path,
                "remove one of them",
            )
        )

    @staticmethod
    def _bomb(node: Any) -> TreeLimitError:
        mark = node.start_mark
        return TreeLimitError(
            "YAML aliases expand this document far beyond its own size (an alias bomb?)",
            mark.line + 1,
            mark.column + 1,
            "write the repeated parts out, or use fewer nested aliases",
        )
