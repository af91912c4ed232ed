"""Attribute references: condition operands read from the acting user's attributes at call time.

``{$attr: user.tenant}`` stands for an operand. It is checked at load (namespace, shape) and resolved
per call from ``state.user.attributes``; since that mapping is immutable for a user context, each
operand is prepared once per user and cached by the mapping's identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from d2._core.model import MissingAttribute
from d2._lang.operand_error import OperandError

if TYPE_CHECKING:
    from collections.abc import Callable

    from d2._base.diagnostics import Location

__all__ = ["ATTR_KEY", "NAMESPACES", "AttrRef", "attr_test", "parse_attr_ref"]

ATTR_KEY = "$attr"
NAMESPACES = ("user",)
_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class AttrRef:
    """``{$attr: user.tenant}``: an operand read from the acting user's attributes at call time."""

    namespace: str
    path: tuple[str, ...]

    def __str__(self) -> str:
        return ".".join((self.namespace, *self.path))

    def resolve(self, state: Any) -> Any:
        """The referenced value, or the module's missing marker when any step is absent."""
        node: Any = state.user.attributes
        for part in self.path:
            if not isinstance(node, Mapping) or part not in node:
                return _MISSING
            node = node[part]
        return node


def parse_attr_ref(raw: Any) -> AttrRef | None:
    """Return the reference a ``{$attr: ...}`` operand names (None for a literal); check it at load."""
    if not isinstance(raw, Mapping) or ATTR_KEY not in raw:
        return None

    if len(raw) != 1:
        raise OperandError("an attribute reference has exactly one key", "write {$attr: user.NAME}")
    text = raw[ATTR_KEY]
    if not isinstance(text, str) or not text:
        raise OperandError("'$attr' takes a dotted name such as user.tenant", "write {$attr: user.NAME}")
    namespace, *path = text.split(".")
    if namespace not in NAMESPACES:
        from d2._base.suggest import suggest

        guess = suggest(namespace, NAMESPACES)
        hint = (
            f"did you mean '{guess}'?"
            if guess
            else "attributes live under 'user.' (set_user(..., attributes=))"
        )
        raise OperandError(f"unknown attribute namespace '{namespace}'", hint, "D2E107")
    if not path or not all(part.strip() and part == part.strip() for part in path):
        raise OperandError(
            f"malformed attribute reference {text!r}", "write {$attr: user.NAME[.FIELD...]}", "D2E107"
        )
    return AttrRef(namespace, tuple(path))


def _thaw(value: Any) -> Any:
    """Undo the request-time freezing of attributes so operand preparation sees plain lists and dicts."""
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_thaw(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_thaw(v) for v in value), key=repr)
    return value


def _never(v: Any, s: Any) -> bool:  # pragma: no cover - its cache key matches no attributes
    raise AssertionError("an empty attribute cache was read")


def attr_test(spec: Any, ref: AttrRef, op: str, where: Location | None) -> Callable[[Any, Any], bool]:
    """Build the test of operator ``spec`` whose operand is read through ``ref`` at call time."""

    # One-entry cache keyed by the (immutable) attributes mapping: a request prepares each operand once.
    # The key and the prepared test live in ONE tuple swapped in a single store, so concurrent requests
    # of different users can never pair one user's attributes with another user's operand.
    # It starts with a key no attributes mapping can be, so the hit test needs no None check.
    cache: list[tuple[Any, Callable[[Any, Any], Any]]] = [(object(), _never)]

    def test(v: Any, s: Any) -> bool:
        attrs = s.user.attributes
        entry = cache[0]
        if entry[0] is attrs:
            return bool(entry[1](v, s))
        raw = ref.resolve(s)
        if raw is _MISSING:
            raise MissingAttribute(ref, op, where, "is not set for this user")
        try:
            built = spec.build(spec.prepare(_thaw(raw)))
        except OperandError as exc:
            raise MissingAttribute(ref, op, where, f"cannot be used by '{op}': {exc.message}") from None
        cache[0] = (attrs, built)
        return bool(built(v, s))

    return test
