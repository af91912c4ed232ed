"""Did-you-mean suggestions for misspelt keys, operators and names."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["suggest"]

# Words people reach for from other validation languages (JSON Schema, pydantic, SQL).
_SYNONYMS: dict[str, str] = {
    "minimum": "min",
    "maximum": "max",
    "exclusiveminimum": "gt",
    "exclusivemaximum": "lt",
    "greater_than": "gt",
    "less_than": "lt",
    "gte": "min",
    "lte": "max",
    "regex": "matches",
    "pattern": "matches",
    "match": "matches",
    "not_match": "not_matches",
    "not_regex": "not_matches",
    "enum": "in",
    "one_of": "in",
    "oneof": "in",
    "not_one_of": "not_in",
    "nin": "not_in",
    "equals": "eq",
    "equal": "eq",
    "const": "eq",
    "neq": "ne",
    "not_equal": "ne",
    "starts_with": "startsWith",
    "startswith": "startsWith",
    "prefix": "startsWith",
    "ends_with": "endsWith",
    "endswith": "endsWith",
    "suffix": "endsWith",
    "min_length": "minLength",
    "minlength": "minLength",
    "max_length": "maxLength",
    "maxlength": "maxLength",
    "includes": "contains",
    "maxbytes": "max_bytes",
    "max_size": "max_bytes",
    "permission": "permissions",
    "rules": "policies",
    "groups": "tool_groups",
    "dataflow": "data_flow",
    "expiry": "expires",
    "expiration": "expires",
    "sequences": "sequence",
}


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate the user most likely meant, or None when nothing is close."""
    pool = sorted(set(candidates))
    if not pool:
        return None
    lowered = {c.lower(): c for c in pool}
    if word.lower() in lowered and lowered[word.lower()] != word:
        return lowered[word.lower()]
    synonym = _SYNONYMS.get(word.lower().replace("-", "_"))
    if synonym is None:
        synonym = _SYNONYMS.get(word.lower().replace("-", "").replace("_", ""))
    if synonym in pool:
        return synonym
    import difflib  # only when a name is misspelt: ``import d2`` does not pay for it

    close = difflib.get_close_matches(word, pool, n=1, cutoff=0.75)
    if close:
        return close[0]
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.75)
    return lowered[close[0]] if close else None
