"""Output field paths: parse ``a.b``, ``a.*``, ``**.ssn`` once, then walk values copy-on-write.

Every rule of a grant is inserted into one trie, so a result is walked once however many rules it
has. A bare name addresses a key of the value, or of every item when the value is a list (lists are
transparent for key lookups, nested lists too); ``*`` addresses every element of a list or every value
of a dict; ``**`` matches any depth (zero or more levels), so ``**.ssn`` reaches every ``ssn`` key.

Rules are callables ``rule(value, state) -> value``: they return the value, a replacement, or
:data:`REMOVE`, or raise :class:`Stop`. The walker never mutates what it is given: a container is
copied only when something inside it changed, and unchanged parts are shared with the original.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from d2._base.diagnostics import Location
from d2._lang.inspection import LEAVES, Opaque, cycle, enum_value, opaque, record_fields, walkable_set

__all__ = [
    "REMOVE",
    "PathError",
    "PathNode",
    "Presence",
    "Replace",
    "Stop",
    "parse_path",
    "remove_always",
    "render_path",
    "visit",
]

Rule = Callable[[Any, Any], Any]
REMOVE: Any = type("Remove", (), {"__repr__": lambda self: "<remove>"})()
_MISSING: Any = object()

# Values with no fields inside: a path stops at them. Namedtuples and dataclasses are read as
# mappings; an Enum member as its value; a set only when it holds plain values. Anything else is an
# object d2 cannot look into, so a rule that must reach inside it fails closed.
_LEAVES = LEAVES
# The exact leaf types the any-depth walk steps over at once. A subclass is checked for fields first:
# a dataclass may subclass str or int and still hold fields a ``**.name`` rule must reach.
_PLAIN = frozenset({str, int, float, bool, type(None)})
_ACTIVE: Any = object()


def remove_always(value: Any, state: Any) -> Any:
    """The unconditional ``filter`` rule; the walker recognises it and drops the key without a call."""
    return REMOVE


class Replace:
    """An unconditional rule that replaces any value with one constant (``action: redact``).

    The walker recognises it and stores the constant without a call; calling it does the same.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __call__(self, value: Any, state: Any) -> Any:
        return self.value


class PathError(ValueError):
    """A field path that cannot be parsed; ``hint`` says how to write it."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def parse_path(text: str) -> tuple[str, ...]:
    """Split a field path into segments; ``*`` and ``**`` stay as themselves."""
    parts = tuple(text.split("."))
    if any(p == "" for p in parts):
        raise PathError(f"field path {text!r} has an empty segment", "write names joined by single dots")
    for i, part in enumerate(parts):
        if part == "**":
            if i == len(parts) - 1:
                raise PathError(f"field path {text!r} ends with '**'", "name the field: '**.ssn'")
            if parts[i + 1] in ("*", "**"):
                raise PathError(f"'**' in {text!r} is followed by '{parts[i + 1]}'", "write '**.name'")
        elif "*" in part and part != "*":
            raise PathError(
                f"field path {text!r}: '*' must be a whole segment",
                "use 'a.*' for every element or value, or '**.name' for a field at any depth",
            )
    return parts


@dataclass(frozen=True, slots=True)
class Presence:
    """A rule that needs a field to exist: why a missing field fails, and where the rule is."""

    reason: str
    location: Location
    message: str


class Stop(Exception):
    """A rule refused the value; ``parts`` gathers the concrete path as the walk unwinds."""

    def __init__(
        self, reason: str, operator: str, location: Location | None, message: str, value: Any
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.operator = operator
        self.location = location
        self.message = message
        self.value = value
        self.parts: list[str | int] = []

    def target(self) -> str:
        return render_path(tuple(reversed(self.parts)))


def render_path(parts: tuple[str | int, ...]) -> str:
    """Render concrete path parts as ``records[2].ssn`` (the root is ``$``)."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "$"


class PathNode:
    """One trie node: rules for the value here, and what to look up inside it."""

    __slots__ = ("deep", "drop", "flat", "inner", "keys", "presence", "rules", "star")

    def __init__(self) -> None:
        self.keys: dict[str, PathNode] = {}
        self.star: PathNode | None = None
        self.deep: PathNode | None = None
        self.rules: tuple[Rule, ...] = ()
        self.presence: Presence | None = None
        # Something to look up inside the value here (keys, star or deep): kept as a flag for speed.
        self.inner = False
        # The first rule here is an unconditional filter: the key is dropped without running anything.
        self.drop = False
        # The keys of a dict here, when each has at most one rule and nothing below it: one closure
        # applies them all (see _flat_visitor); the rows of a result take this path.
        self.flat: Callable[[dict[str, Any], Any], Any] | None = None

    def insert(self, parts: tuple[str, ...], rule: Rule, presence: Presence | None = None) -> None:
        """Add ``rule`` at ``parts``; with ``presence``, every key on the way must exist."""
        node = self
        self.flat = None  # a plan made before this rule no longer holds: seal() makes a new one
        for part in parts:
            node.inner = True
            if part == "**":
                node.deep = node.deep or PathNode()
                node = node.deep
            elif part == "*":
                node.star = node.star or PathNode()
                node = node.star
            else:
                node = node.keys.setdefault(part, PathNode())
                if presence is not None and node.presence is None:
                    node.presence = presence
            node.flat = None
        node.rules = (*node.rules, rule)
        node.drop = node.rules[0] is remove_always

    def seal(self) -> PathNode:
        """Plan the flat row closures of this trie once every rule is in (see _flat_visitor).

        Without it the walk takes the general path everywhere, which decides the same.
        """
        seen: set[int] = set()
        stack = [self]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            node.flat = _flat_visitor(node)
            stack.extend(node.keys.values())
            stack.extend(n for n in (node.star, node.deep) if n is not None)
        return self


def _flat_visitor(node: PathNode) -> Callable[[dict[str, Any], Any], Any] | None:
    """One closure for the keys of ``node`` when none has a presence check or anything below it.

    Drops, constant replacements and single rules are split at load, so a row costs a few dict
    operations; the keys keep their order among the rules that may raise (the first refusal is the
    one reported). Anything else (``**``, required keys, nested paths) takes the general walk.
    """
    if node.deep is not None or not node.keys:
        return None
    drops: list[str] = []
    consts: list[tuple[str, Any]] = []
    calls: list[tuple[str, Rule]] = []
    for key, child in node.keys.items():
        if child.presence is not None:
            return None
        if child.drop:
            drops.append(key)
        elif child.inner or len(child.rules) != 1:
            return None
        elif child.rules[0].__class__ is Replace:
            consts.append((key, child.rules[0].value))
        else:
            calls.append((key, child.rules[0]))
    return _flat(tuple(drops), tuple(consts), tuple(calls))


def _flat(
    drops: tuple[str, ...], consts: tuple[tuple[str, Any], ...], calls: tuple[tuple[str, Rule], ...]
) -> Callable[[dict[str, Any], Any], Any]:
    if len(drops) == 1 and len(consts) == 1 and not calls:  # e.g. {ssn: filter, email: redact}
        ((gone,), ((key, const),)) = drops, consts

        def drop_and_replace(d: dict[str, Any], state: Any) -> Any:
            old = d.get(key, const)
            if gone in d:
                out = d.copy()
                del out[gone]
            elif old is const:
                return d
            else:
                out = d.copy()
            if old is not const:
                out[key] = const
            return out

        return drop_and_replace

    def flat(d: dict[str, Any], state: Any) -> Any:
        out: dict[str, Any] | None = None
        for gone in drops:
            if gone in d:
                if out is None:
                    out = d.copy()
                del out[gone]
        for key, const in consts:
            if d.get(key, const) is not const:
                if out is None:
                    out = d.copy()
                out[key] = const
        for key, rule in calls:
            old = d.get(key, _MISSING)
            if old is _MISSING:
                continue
            try:
                new = rule(old, state)
            except Stop as stop:
                stop.parts.append(key)
                raise
            if new is not old:
                if out is None:
                    out = d.copy()
                if new is REMOVE:
                    del out[key]
                else:
                    out[key] = new
        return d if out is None else out

    return flat


def visit(value: Any, node: PathNode, state: Any, star: bool = True) -> Any:
    """Apply the trie below ``node`` inside ``value``; return it, or a changed copy."""
    cls = value.__class__
    if cls is dict:
        return _visit_map(value, node, state, star)
    if cls is list:
        return _visit_seq(value, node, state, star)
    if isinstance(value, Mapping):
        return _visit_map(value, node, state, star)
    fields = record_fields(value)
    if fields is not None:
        return _visit_record(value, dict(fields), node, state, star)
    if isinstance(value, (list, tuple)):
        return _visit_seq(value, node, state, star)
    _check_leaf(value)
    for key, child in node.keys.items():
        if child.presence is not None:
            raise _missing(child.presence, key)
    return value


def _check_leaf(value: Any) -> None:
    """Refuse a value the walk would have to look inside but cannot (the phase fills in the reason)."""
    try:
        if isinstance(value, enum.Enum):
            enum_value(value)
        elif isinstance(value, (set, frozenset)):
            if not walkable_set(value):
                raise Opaque(f"is a {type(value).__name__} of records, which d2 cannot address by field")
        elif not isinstance(value, _LEAVES):
            raise opaque(value)
    except Opaque as exc:
        raise Stop("", "path", None, exc.message, None) from None


def _visit_record(value: Any, fields: dict[str, Any], node: PathNode, state: Any, star: bool) -> Any:
    """Walk a namedtuple or dataclass as the mapping of its fields; a change returns a dict."""
    out = _visit_map(fields, node, state, star)
    return value if out is fields else out


def _missing(presence: Presence, key: str) -> Stop:
    stop = Stop(presence.reason, "required", presence.location, presence.message, None)
    stop.parts.append(key)
    return stop


def _copy(d: Mapping[str, Any]) -> dict[str, Any]:
    return d.copy() if isinstance(d, dict) else dict(d)


def _child(value: Any, node: PathNode, state: Any, part: str | int) -> Any:
    """Run the rules addressed at ``value``, then the trie inside it."""
    try:
        for rule in node.rules:
            value = rule(value, state)
            if value is REMOVE:
                return REMOVE
        if node.inner:
            value = visit(value, node, state)
        return value
    except Stop as stop:
        stop.parts.append(part)
        raise


def _visit_map(d: Mapping[str, Any], node: PathNode, state: Any, star: bool) -> Any:
    flat = node.flat
    if flat is not None and d.__class__ is dict and (not star or node.star is None):
        return flat(d, state)
    out: dict[str, Any] | None = None
    for key, child in node.keys.items():
        old = d.get(key, _MISSING)
        if old is _MISSING:
            if child.presence is not None:
                raise _missing(child.presence, key)
            continue
        if child.drop:
            if out is None:
                out = d.copy() if d.__class__ is dict else _copy(d)
            del out[key]
            continue
        new = old
        try:  # _child, inlined: this loop runs for every field of every row
            for rule in child.rules:
                new = rule(new, state)
                if new is REMOVE:
                    break
            else:
                if child.inner:
                    new = visit(new, child, state)
        except Stop as stop:
            stop.parts.append(key)
            raise
        if new is not old:
            if out is None:
                out = d.copy() if d.__class__ is dict else _copy(d)
            if new is REMOVE:
                del out[key]
            else:
                out[key] = new
    if star and node.star is not None:
        out = _each_value(d if out is None else out, out is not None, node.star, state) or out
    if node.deep is not None:
        current = d if out is None else out
        deep = _visit_deep(current, node.deep, state)
        if deep is not current:
            out = deep
    return d if out is None else out


def _each_value(d: Mapping[str, Any], owned: bool, node: PathNode, state: Any) -> dict[str, Any] | None:
    """Apply ``node`` to every value of ``d``; return the changed dict (``d`` itself when owned), or None."""
    out: dict[str, Any] | None = d if owned and isinstance(d, dict) else None
    for key in list(d):
        old = d[key]
        new = _child(old, node, state, key)
        if new is not old:
            if out is None:
                out = _copy(d)
            if new is REMOVE:
                del out[key]
            else:
                out[key] = new
    return out


def _visit_seq(seq: list[Any] | tuple[Any, ...], node: PathNode, state: Any, star: bool) -> Any:
    element = node.star if star else None
    maps = bool(node.keys) or node.deep is not None
    flat = node.flat
    if element is None and flat is not None:
        return _flat_seq(seq, node, flat, state)
    out: list[Any] | None = None
    # Nested lists seen in this list, walked once each: ``[x, x]`` nested 64 deep is 64 walks, not 2**64.
    nested: dict[int, tuple[Any, Any]] | None = None
    for i, item in enumerate(seq):
        new = item
        if element is not None:
            new = _child(item, element, state, i)
        if maps and new is not REMOVE:
            try:
                if new.__class__ is dict:
                    new = _visit_map(new, node, state, False)
                elif isinstance(new, (list, tuple)):
                    nested = {} if nested is None else nested
                    done = nested.get(id(new))
                    if done is None:
                        done = nested[id(new)] = (new, visit(new, node, state, False))
                    new = done[1]
                else:
                    new = visit(new, node, state, False)
            except Stop as stop:
                stop.parts.append(i)
                raise
        if new is not item and out is None:
            out = list(seq[:i])
        if out is not None and new is not REMOVE:
            out.append(new)
    if out is None:
        return seq
    return tuple(out) if isinstance(seq, tuple) else out


def _flat_seq(
    seq: list[Any] | tuple[Any, ...], node: PathNode, flat: Callable[[dict[str, Any], Any], Any], state: Any
) -> Any:
    """:func:`_visit_seq` for a list of rows whose keys one flat closure handles (no ``*`` here)."""
    out: list[Any] | None = None
    nested: dict[int, tuple[Any, Any]] | None = None
    for i, item in enumerate(seq):
        try:
            if item.__class__ is dict:
                new = flat(item, state)
            elif isinstance(item, (list, tuple)):
                nested = {} if nested is None else nested
                done = nested.get(id(item))
                if done is None:
                    done = nested[id(item)] = (item, visit(item, node, state, False))
                new = done[1]
            else:
                new = visit(item, node, state, False)
        except Stop as stop:
            stop.parts.append(i)
            raise
        if new is not item and out is None:
            out = list(seq[:i])
        if out is not None:
            out.append(new)
    if out is None:
        return seq
    return tuple(out) if isinstance(seq, tuple) else out


def _visit_deep(value: Any, node: PathNode, state: Any, memo: dict[int, Any] | None = None) -> Any:
    """Apply ``node`` at ``value`` and at every container below it.

    ``memo`` maps each container already walked to its result, so shared parts are walked once (a
    result of ``[row] * n`` nested is linear, not exponential) and a container inside itself is found.
    """
    if memo is None:
        memo = {}
    fields = None if isinstance(value, (Mapping, list)) else record_fields(value)
    if not isinstance(value, (Mapping, list, tuple)) and fields is None:
        return visit(value, PathNode(), state)
    key = id(value)
    done = memo.get(key)
    if done is _ACTIVE:
        raise Stop("", "path", None, cycle().message, None)
    if done is not None:
        return done[1]
    memo[key] = _ACTIVE
    if fields is not None:
        mapping = dict(fields)
        result = _deep_map(mapping, node, state, memo)
        result = value if result is mapping else result
    elif isinstance(value, Mapping):
        result = _deep_map(value, node, state, memo)
    else:
        result = _deep_seq(value, node, state, memo)
    memo[key] = (value, result)  # keeps ``value`` alive: its id cannot be reused during the walk
    return result


def _fieldless_leaf(value: Any) -> bool:
    """A leaf the any-depth walk can step over: no Enum (it may hide a record) and no fields of its own."""
    return isinstance(value, _LEAVES) and not isinstance(value, enum.Enum) and record_fields(value) is None


def _deep_map(value: Mapping[str, Any], node: PathNode, state: Any, memo: dict[int, Any]) -> Any:
    here = _visit_map(value, node, state, True)
    out: dict[str, Any] | None = here if here is not value else None
    current = here
    for key in list(current):
        old = current[key]
        if old.__class__ in _PLAIN or _fieldless_leaf(old):
            continue
        try:
            new = _visit_deep(old, node, state, memo)
        except Stop as stop:
            stop.parts.append(key)
            raise
        if new is not old:
            if out is None:
                out = _copy(current)
            out[key] = new
    return current if out is None else out


def _deep_seq(value: list[Any] | tuple[Any, ...], node: PathNode, state: Any, memo: dict[int, Any]) -> Any:
    items: list[Any] | None = None
    for i, item in enumerate(value):
        if item.__class__ in _PLAIN or _fieldless_leaf(item):
            continue
        try:
            new = _visit_deep(item, node, state, memo)
        except Stop as stop:
            stop.parts.append(i)
            raise
        if new is not item:
            if items is None:
                items = list(value)
            items[i] = new
    if items is None:
        return value
    return tuple(items) if isinstance(value, tuple) else items
