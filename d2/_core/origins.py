"""Where a request's values came from: the user's own request, and results of untrusted tools.

Everything d2 remembers about the origin of values lives in one object per request,
:class:`RequestOrigins` (``RequestLog.origins``), so a request-state backend can store it as a unit:

* :class:`RequestValues`: what the user asked (their instruction, the ids they named), set once per
  request with ``d2.set_request_values``. Folded forms (case, spaces, Unicode) are built on first use,
  once per value and fold, so a check is one search of an already prepared text.
* :class:`Provenance`: hashed keys of the values that appeared in results of tools whose data-flow
  labels are declared untrusted. A key is the text with everything but letters and digits removed,
  after NFKC and case folding; the number of keys per request is bounded, and a request that passes
  the bound (or meets a result d2 cannot look inside) is *saturated*: from then on no value can be
  shown not to come from untrusted content.

Deterministic, no model: what is caught is exactly what these keys can see (docs/injection-defence.md).
Keys are hashed with Python's ``hash`` (randomised per process): a backend that shares the record
between processes must store its own keyed, stable digest of :func:`key_of` instead.
"""

from __future__ import annotations

import os
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from d2._core.origin_keys import key_of, result_keys

__all__ = [
    "MAX_CANDIDATES",
    "PROVENANCE_LIMIT",
    "Fold",
    "Provenance",
    "RequestOrigins",
    "RequestValues",
    "key_of",
    "origins_of",
    "result_keys",
    "value_text",
]


def _limit_from_env(default: int = 50_000) -> int:
    raw = os.environ.get("D2_PROVENANCE_LIMIT", "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else default


# Keys kept per request across all untrusted labels (~65 bytes each); D2_PROVENANCE_LIMIT overrides it.
PROVENANCE_LIMIT = _limit_from_env()
# Occurrences of a value examined in one text before it counts as not found (fail closed, bounded time).
MAX_CANDIDATES = 256
_WORDS = re.compile(r"\S+")


def value_text(value: Any) -> str | None:
    """The text a request or provenance check compares: a string, or an int's decimal text; else None."""
    cls = value.__class__
    if cls is str:
        return value  # type: ignore[no-any-return]
    if cls is int or (isinstance(value, int) and not isinstance(value, bool)):
        return str(int(value))
    if isinstance(value, str):
        return str.__str__(value)
    return None


# -- the user's own request ----------------------------------------------------------------------


def _same(text: str) -> str:
    return text


@dataclass(frozen=True, slots=True)
class Fold:
    """How texts are compared: exactly (the default), or ignoring case, whitespace, Unicode forms."""

    ignore_case: bool = False
    ignore_spaces: bool = False
    unicode: bool = False

    def __call__(self, text: str) -> str:
        if self.unicode:
            text = unicodedata.normalize("NFKC", text)
        if self.ignore_case:
            text = text.casefold()
        if self.ignore_spaces:
            text = "".join(text.split())
        return text

    def function(self) -> Callable[[str], str]:
        """This fold as the cheapest function that does it (a check calls it once per argument)."""
        if not (self.unicode or self.ignore_spaces):
            return str.casefold if self.ignore_case else _same
        return self.__call__

    def describe(self) -> str:
        parts = [
            name
            for name, on in (("ignoring case", self.ignore_case), ("ignoring spaces", self.ignore_spaces))
            if on
        ]
        if self.unicode:
            parts.append("after NFKC")
        return f" ({', '.join(parts)})" if parts else ""


class _Text:
    """A request text prepared for one fold: the searched text, and where its characters came from."""

    __slots__ = ("positions", "searched", "source")

    def __init__(self, text: str, fold: Fold) -> None:
        # Word boundaries are judged on the folded text with its spaces; the searched text may drop them.
        self.source = Fold(fold.ignore_case, False, fold.unicode)(text)
        if fold.ignore_spaces:
            runs = [(m.start(), m.end()) for m in _WORDS.finditer(self.source)]
            self.searched = "".join(self.source[a:b] for a, b in runs)
            self.positions: list[int] | None = [i for a, b in runs for i in range(a, b)]
        else:
            self.searched = self.source
            self.positions = None

    def occurs(self, needle: str) -> bool:
        """True when ``needle`` occurs as whole words: no letter or digit glued to either end."""
        if not needle:
            return False
        text, source, positions = self.searched, self.source, self.positions
        head, tail, size = needle[0].isalnum(), needle[-1].isalnum(), len(needle)
        start = text.find(needle)
        tries = 0
        while start >= 0:
            first = positions[start] if positions is not None else start
            end = positions[start + size - 1] + 1 if positions is not None else start + size
            if not (head and first > 0 and source[first - 1].isalnum()) and not (
                tail and end < len(source) and source[end].isalnum()
            ):
                return True
            tries += 1
            if tries >= MAX_CANDIDATES:
                return False
            start = text.find(needle, start + 1)
        return False


class RequestValues:
    """The user's own request: named texts (an instruction) and named sets (ids they named)."""

    __slots__ = ("_prepared", "values")

    def __init__(self, values: Mapping[str, str | frozenset[str]]) -> None:
        self.values = dict(values)
        self._prepared: dict[tuple[str, Fold], _Text | frozenset[str]] = {}

    @classmethod
    def from_arguments(cls, values: Mapping[str, Any]) -> RequestValues:
        """Check and freeze what ``d2.set_request_values`` was given: a text or a collection of ids each."""
        out: dict[str, str | frozenset[str]] = {}
        for name, value in values.items():
            if not name.isidentifier():
                raise TypeError(f"request value names must be identifiers, got {name!r}")
            if isinstance(value, str):
                out[name] = str.__str__(value)
                continue
            if isinstance(value, (bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
                raise TypeError(
                    f"request value '{name}' must be a text (str) or a collection of ids (list of str or "
                    f"int), got {type(value).__name__}"
                )
            items: set[str] = set()
            for item in value:
                text = value_text(item)
                if text is None:
                    raise TypeError(
                        f"request value '{name}' may hold only strings and ints, got {type(item).__name__}"
                    )
                items.add(text)
            out[name] = frozenset(items)
        return cls(out)

    def prepared(self, name: str, fold: Fold) -> _Text | frozenset[str] | None:
        """Value ``name`` folded for searching (built once per fold); None when the request lacks it."""
        found = self._prepared.get((name, fold))
        if found is None:
            raw = self.values.get(name)
            if raw is None:
                return None
            found = _Text(raw, fold) if isinstance(raw, str) else frozenset(fold(x) for x in raw)
            self._prepared[(name, fold)] = found  # racing threads build equal values: harmless
        return found

    def contains(self, name: str, fold: Fold, needle: str) -> bool | None:
        """Whether the folded ``needle`` occurs in value ``name`` (None: the request has no such value)."""
        found = self.prepared(name, fold)
        if found is None:
            return None
        return found.occurs(needle) if isinstance(found, _Text) else needle in found


class Provenance:
    """Hashed keys of values seen in untrusted results, per label, bounded per request."""

    __slots__ = ("count", "keys", "limit", "saturated")

    def __init__(self, limit: int | None = None) -> None:
        self.keys: dict[str, set[int]] = {}
        self.saturated: set[str] = set()
        self.count = 0
        self.limit = PROVENANCE_LIMIT if limit is None else limit

    def record(self, labels: Iterable[str], value: Any, lock: threading.Lock) -> None:
        """Remember the keys of ``value`` under each label (the keys are computed outside the lock)."""
        found, complete = result_keys(value)
        with lock:
            for label in labels:
                if not complete:
                    self.saturated.add(label)
                if label in self.saturated:
                    continue
                known = self.keys.setdefault(label, set())
                new = found - known
                if self.count + len(new) > self.limit:
                    self.saturated.add(label)  # fail closed: an unrecorded value could be any value
                    continue
                known |= new
                self.count += len(new)

    def seen(self, labels: Iterable[str], text: str) -> bool:
        """True when ``text`` may come from content under one of ``labels`` (or a record is incomplete)."""
        sets = []
        for label in labels:
            if label in self.saturated:
                return True
            known = self.keys.get(label)
            if known:
                sets.append(known)
        if not sets:
            return False
        key = key_of(text)
        if not key:
            return False
        hashed = hash(key)
        if any(hashed in known for known in sets):
            return True
        words = text.split()
        if len(words) < 2:
            return False
        # A value of several words counts as seen when each of its words was (order not checked).
        hashes = [hash(k) for k in map(key_of, words) if k]
        return any(all(h in known for h in hashes) for known in sets)


class RequestOrigins:
    """The origin records of one request: the user's request values and the provenance of values."""

    __slots__ = ("provenance", "request")

    def __init__(self) -> None:
        self.request: RequestValues | None = None
        self.provenance = Provenance()


def origins_of(log: Any) -> RequestOrigins:
    """Return the request's origin records, creating them on first use (under the request lock)."""
    found: RequestOrigins | None = log.origins
    if found is None:
        with log.lock:
            found = log.origins
            if found is None:
                found = log.origins = RequestOrigins()
    return found
