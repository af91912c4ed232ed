"""Operators on where a value came from: ``in_request`` (the user asked for it) and ``not_from``.

``in_request`` passes a value that occurs, as whole words, in a text of the user's own request (their
instruction) or is one of a set of ids they named. ``not_from`` refuses a value seen in a result of a
tool whose data-flow label is declared untrusted, unless the user's request also has it
(``unless_in_request``). Both compile once at load; a call folds the value, hashes it or searches an
already prepared text: no regex is built per request and nothing backtracks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from d2._base.suggest import suggest
from d2._core.model import MissingAttribute
from d2._core.origins import Fold, RequestValues, value_text
from d2._lang.operators import Check, OperandError, Test, show

if TYPE_CHECKING:
    from d2._base.diagnostics import Location
    from d2._lang.compile_context import CompileContext
    from d2._lang.source import JsonPath

__all__ = [
    "NotFrom",
    "RequestMatch",
    "check_label_refs",
    "compile_in_request",
    "compile_not_from",
    "compile_untrusted",
]

_FOLD_KEYS = ("ignore_case", "ignore_spaces", "unicode")


@dataclass(frozen=True, slots=True)
class RequestMatch:
    """``in_request``'s operand: which request values, compared how."""

    names: tuple[str, ...]
    fold: Fold = field(default_factory=Fold)

    def describe(self) -> str:
        return " or ".join(f"request.{n}" for n in self.names) + self.fold.describe()


@dataclass(frozen=True, slots=True)
class NotFrom:
    """``not_from``'s operand: the untrusted labels, and the request values that vouch for a value."""

    labels: tuple[str, ...]
    unless: RequestMatch | None = None


def _names(raw: Any, what: str) -> tuple[str, ...]:
    items = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else None
    if not items or not all(isinstance(n, str) and n for n in items):
        raise OperandError(f"{what} takes a name or a non-empty list of names, got {show(raw)}")
    return tuple(dict.fromkeys(items))


def parse_request_match(raw: Any) -> RequestMatch:
    """Read ``in_request: NAME | [NAMES] | {names: ..., ignore_case:, ignore_spaces:, unicode:}``."""
    if not isinstance(raw, Mapping):
        names = _names(raw, "'in_request'")
        fold = Fold()
    else:
        unknown = sorted(set(raw) - {"names", *_FOLD_KEYS})
        if unknown:
            guess = suggest(unknown[0], ("names", *_FOLD_KEYS))
            raise OperandError(
                f"unknown option {unknown[0]!r}",
                f"did you mean '{guess}'?" if guess else "options: names, " + ", ".join(_FOLD_KEYS),
            )
        if "names" not in raw:
            raise OperandError(
                "the mapping form needs 'names'", "write {names: instruction, ignore_case: true}"
            )
        flags = {k: raw.get(k, False) for k in _FOLD_KEYS}
        bad = [k for k, v in flags.items() if not isinstance(v, bool)]
        if bad:
            raise OperandError(f"'{bad[0]}' must be true or false")
        names = _names(raw["names"], "'names'")
        fold = Fold(**flags)
    for name in names:
        if not name.isidentifier():
            raise OperandError(
                f"request value name {name!r} is not an identifier",
                "name it as in d2.set_request_values(instruction=..., ids=[...])",
            )
    return RequestMatch(names, fold)


def parse_not_from(raw: Any) -> NotFrom:
    """Read ``not_from: LABEL | [LABELS] | {labels: ..., unless_in_request: ...}``."""
    if not isinstance(raw, Mapping):
        return NotFrom(_names(raw, "'not_from'"))
    unknown = sorted(set(raw) - {"labels", "unless_in_request"})
    if unknown:
        guess = suggest(unknown[0], ("labels", "unless_in_request"))
        raise OperandError(
            f"unknown option {unknown[0]!r}",
            f"did you mean '{guess}'?" if guess else "options: labels, unless_in_request",
        )
    if "labels" not in raw:
        raise OperandError(
            "the mapping form needs 'labels'", "write {labels: untrusted, unless_in_request: instruction}"
        )
    unless = raw.get("unless_in_request")
    return NotFrom(
        _names(raw["labels"], "'labels'"), parse_request_match(unless) if unless is not None else None
    )


def _matcher(match: RequestMatch, op: str, where: Location | None) -> Callable[[str, Any], bool]:
    """``found(text, values)``: does ``text`` occur in the named request values (folded as asked)?

    The prepared values are looked up once per request (a one-entry cache on the values object), so a
    call folds the argument and searches; a name the request lacks refuses (MissingAttribute).
    """
    names, fold = match.names, match.fold.function()
    # One (values, prepared) pair, replaced as a whole: concurrent requests never mix two halves.
    cache: list[tuple[Any, tuple[Any, ...]]] = [(None, ())]

    def prepare(values: RequestValues | None) -> tuple[Any, ...]:
        found = []
        for name in names:
            item = values.prepared(name, match.fold) if values is not None else None
            if item is None:
                hint = f"call d2.set_request_values({name}=...) when it starts"
                raise MissingAttribute(f"request.{name}", op, where, f"is not set for this request; {hint}")
            found.append(item)
        prepared = tuple(found)
        cache[0] = (values, prepared)
        return prepared

    def found(text: str, values: RequestValues | None) -> bool:
        seen, prepared = cache[0]
        if values is None or seen is not values:
            prepared = prepare(values)
        needle = fold(text)
        for item in prepared:
            if needle in item if item.__class__ is frozenset else item.occurs(needle):
                return True
        return False

    return found


def build_in_request(match: RequestMatch, where: Location | None) -> Test:
    found = _matcher(match, "in_request", where)

    def test(v: Any, s: Any) -> bool:
        text = v if v.__class__ is str else value_text(v)
        if text is None:
            return False
        origins = s.log.origins
        return found(text, origins.request if origins is not None else None)

    return test


def build_not_from(spec: NotFrom, where: Location | None) -> Test:
    labels = spec.labels
    unless = _matcher(spec.unless, "not_from", where) if spec.unless is not None else None

    def test(v: Any, s: Any) -> bool:
        text = v if v.__class__ is str else value_text(v)
        if text is None:
            return False  # a list, a dict, an object: d2 cannot tell where it came from
        origins = s.log.origins
        if origins is None or not origins.provenance.seen(labels, text):
            return True  # nothing untrusted read in this request, or not this value
        return unless is not None and unless(text, origins.request)

    return test


def compile_in_request(raw: Any, path: JsonPath, ctx: CompileContext) -> Check:
    """Compile ``in_request``; raises OperandError for a bad operand."""
    match = parse_request_match(raw)
    where = ctx.loc(path, key=True)
    expect = f"must occur in {match.describe()}"
    return Check("in_request", build_in_request(match, where), where, expect, match)


def compile_not_from(raw: Any, path: JsonPath, ctx: CompileContext) -> Check:
    """Compile ``not_from``; its labels are checked against ``data_flow.untrusted`` once that is known."""
    spec = parse_not_from(raw)
    where = ctx.loc(path, key=True)
    for label in spec.labels:
        ctx.label_refs.append((label, path))
    names = ", ".join(f"'{label}'" for label in spec.labels)
    expect = f"must not come from content labelled {names}"
    if spec.unless is not None:
        expect += f" unless it occurs in {spec.unless.describe()}"
    return Check("not_from", build_not_from(spec, where), where, expect, spec)


def check_label_refs(ctx: CompileContext, untrusted: frozenset[str], *, origin: str = "policy") -> None:
    """Report ``not_from`` labels that are not declared untrusted: they would never refuse anything."""
    for label, path in ctx.label_refs:
        if label in untrusted:
            continue
        guess = suggest(label, untrusted)
        hint = (
            f"did you mean '{guess}'?"
            if guess
            else "list it under metadata.data_flow.untrusted, with the tools that emit it under labels"
        )
        ctx.error(
            "D2E108",
            f"'not_from' names label '{label}', which the {origin} does not declare untrusted, so no value "
            "is ever recorded under it",
            path,
            key=True,
            hint=hint,
        )
    ctx.label_refs.clear()


def compile_untrusted(
    node: Any, path: JsonPath, ctx: CompileContext, emits: Mapping[str, set[str]]
) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """Read ``data_flow.untrusted``: the declared labels, and tool -> the untrusted labels it emits."""
    if not isinstance(node, list):
        return frozenset(), {}  # absent, or the shape check reports it
    emitted = {label for labels in emits.values() for label in labels}
    declared: set[str] = set()
    for i, label in enumerate(node):
        if not isinstance(label, str) or not label:
            continue
        declared.add(label)
        if label in emitted:
            continue
        guess = suggest(label, emitted)
        if guess is not None:
            ctx.error(
                "D2E303",
                f"untrusted label '{label}' is emitted by no tool, and resembles the emitted label '{guess}'",
                (*path, i),
                hint=f"did you mean '{guess}'? A misspelt label tracks nothing",
            )
        else:
            ctx.warning(
                "D2W304",
                f"untrusted label '{label}' is emitted by no tool; only record_untrusted(value, '{label}') "
                "can feed it",
                (*path, i),
                hint="add the tools whose results are untrusted under data_flow.labels",
            )
    tracked = {tool: frozenset(labels & declared) for tool, labels in emits.items() if labels & declared}
    return frozenset(declared), tracked
