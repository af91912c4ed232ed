"""``-k EXPR``: choose cases by name, as pytest does (``viewer and not delete``, ``(a or b)``).

A word matches when it occurs, ignoring case, in ``file::case name``. ``and``, ``or``, ``not`` and
parentheses combine words; anything else that is not a space or a parenthesis is part of a word.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["SelectError", "compile_selector"]

Selector = Callable[[str], bool]

_TOKENS = re.compile(r"\s*(\(|\)|[^\s()]+)")


class SelectError(ValueError):
    """A ``-k`` expression that does not parse (the message says where)."""


def compile_selector(expr: str) -> Selector:
    """Compile ``expr`` into a predicate on a case's ``file::name``."""
    tokens = [m.group(1) for m in _TOKENS.finditer(expr)]
    if not tokens:
        raise SelectError("-k needs an expression, e.g. -k 'viewer and not delete'")
    parser = _Parser(tokens, expr)
    selector = parser.parse_or()
    if parser.pos != len(tokens):
        raise SelectError(f"-k {expr!r}: unexpected {tokens[parser.pos]!r}")
    return selector


class _Parser:
    def __init__(self, tokens: list[str], expr: str) -> None:
        self.tokens = tokens
        self.expr = expr
        self.pos = 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse_or(self) -> Selector:
        parts = [self.parse_and()]
        while self._peek() == "or":
            self.pos += 1
            parts.append(self.parse_and())
        if len(parts) == 1:
            return parts[0]
        return lambda name: any(p(name) for p in parts)

    def parse_and(self) -> Selector:
        parts = [self.parse_not()]
        while self._peek() == "and":
            self.pos += 1
            parts.append(self.parse_not())
        if len(parts) == 1:
            return parts[0]
        return lambda name: all(p(name) for p in parts)

    def parse_not(self) -> Selector:
        token = self._peek()
        if token == "not":
            self.pos += 1
            inner = self.parse_not()
            return lambda name: not inner(name)
        if token == "(":
            self.pos += 1
            inner = self.parse_or()
            if self._peek() != ")":
                raise SelectError(f"-k {self.expr!r}: missing ')'")
            self.pos += 1
            return inner
        if token is None or token in (")", "and", "or"):
            found = "the end" if token is None else repr(token)
            raise SelectError(f"-k {self.expr!r}: expected a word, found {found}")
        self.pos += 1
        word = token.lower()
        return lambda name: word in name.lower()
