"""Provenance keys: how d2 cuts untrusted results into hashed keys, and folds a value to its key.

A key is a text after NFKC and case folding with everything but letters and digits removed, so
``GB33-BUKB``, ``gb33 bukb`` and ``GB33BUKB`` share one. From an untrusted text d2 keeps the keys of
every word, of the parts of a word split at URL, mail and bracket separators, of runs of short
digit-bearing groups joined together (an IBAN written in blocks), and of the whole text when short.
Only ``hash(key)`` is stored (see :mod:`d2._core.origins` for the record and its bounds).
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Mapping
from datetime import date, time, timedelta
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from pathlib import PurePath
from typing import Any
from uuid import UUID

__all__ = ["MAX_RESULT_CHARS", "key_of", "result_keys"]

# Characters of untrusted content read per result; beyond it the label is saturated.
MAX_RESULT_CHARS = 4_000_000
_SPAN_WORDS = 8  # space-separated groups joined into one key (an IBAN written in blocks of four)
_SPAN_GROUP = 6  # longest group that takes part in a span
_SPAN_CHARS = 48
_WHOLE_CHARS = 128  # a whole string value up to this many key characters is one key too

_NON_ALNUM = re.compile(r"[\W_]+")
# Separators inside a word: a URL's query, a mail address, a path, quotes and brackets.
_SEPARATORS = str.maketrans({c: " " for c in "/\\?&=#:;,|()[]{}<>\"'`@!*^~$%"})
# Every ASCII character that is not a letter or a digit, deleted by str.translate (faster than a regex).
_ASCII_DROP = bytes(c for c in range(128) if not chr(c).isalnum())


def key_of(text: str) -> str:
    """Fold ``text`` to its provenance key: NFKC, case folded, letters and digits only."""
    if text.isascii():
        folded = text.lower()
        return folded if folded.isalnum() else folded.encode().translate(None, _ASCII_DROP).decode()
    return _NON_ALNUM.sub("", unicodedata.normalize("NFKC", text).casefold())


def _text_keys(text: str, out: set[int]) -> None:
    """Add the keys of one untrusted text: each word, each part of a word, grouped digits, the whole."""
    folded = text.lower() if text.isascii() else unicodedata.normalize("NFKC", text).casefold()
    whole = _NON_ALNUM.sub("", folded)
    if not whole:
        return
    add = out.add
    if len(whole) <= _WHOLE_CHARS:
        add(hash(whole))
    keys: list[str] = []
    for word in folded.split():
        if word.isalnum():
            keys.append(word)
            add(hash(word))
            continue
        key = (
            word.encode().translate(None, _ASCII_DROP).decode()
            if word.isascii()
            else _NON_ALNUM.sub("", word)
        )
        keys.append(key)
        if key:
            add(hash(key))
        parts = word.translate(_SEPARATORS).split()
        if len(parts) > 1:
            for part in parts:
                piece = _NON_ALNUM.sub("", part)
                if piece:
                    add(hash(piece))
    if not whole.isalpha():  # spans join groups that hold a digit: none without a digit anywhere
        _span_keys(keys, add)


def _span_keys(keys: list[str], add: Any) -> None:
    """Join runs of short groups that hold a digit (``DE89 3704 0044``) into one key each."""
    count = len(keys)
    i = 0
    while i < count:
        if len(keys[i]) > _SPAN_GROUP:
            i += 1
            continue
        j = i
        digit = False
        while j < count and len(keys[j]) <= _SPAN_GROUP:
            digit = digit or (keys[j] != "" and not keys[j].isalpha())
            j += 1
        if digit and j - i > 1:
            _spans(keys[i:j], add)
        i = j


def _spans(run: list[str], add: Any) -> None:
    for i in range(len(run) - 1):
        joined = run[i]
        digit = joined != "" and not joined.isalpha()
        for key in run[i + 1 : i + _SPAN_WORDS]:
            joined += key
            if len(joined) > _SPAN_CHARS:
                break
            digit = digit or (key != "" and not key.isalpha())
            if digit and key:
                add(hash(joined))


def result_keys(value: Any, limit: int = MAX_RESULT_CHARS) -> tuple[set[int], bool]:
    """The keys of every text and number inside ``value``, and whether d2 could see all of it."""
    out: set[int] = set()
    budget = limit
    stack: list[Any] = [value]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        cls = item.__class__
        if cls is str or isinstance(item, str):
            budget -= len(item)
            if budget < 0:
                return out, False
            _text_keys(item, out)
        elif item is None or cls is bool:
            continue
        elif cls is int or cls is float or isinstance(item, _LEAVES):
            _text_keys(str(item), out)  # numbers, dates, ids, enums: their text is what a model sees
        elif isinstance(item, (bytes, bytearray)):
            stack.append(bytes(item).decode("utf-8", "replace"))
        elif isinstance(item, (Mapping, list, tuple, set, frozenset)) or _is_dataclass(item):
            if id(item) in seen:
                continue
            seen.add(id(item))
            if isinstance(item, Mapping):
                for key, child in item.items():
                    stack.append(key)
                    stack.append(child)
            elif _is_dataclass(item):
                stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
            else:
                stack.extend(item)
        else:
            return out, False  # a generator, a model object...: its content is unknown
    return out, True


_LEAVES = (int, float, Decimal, Fraction, date, time, timedelta, UUID, Enum, PurePath)


def _is_dataclass(item: Any) -> bool:
    return dataclasses.is_dataclass(item) and not isinstance(item, type)
