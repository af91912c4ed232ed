"""The shape check: run the JSON Schema in ``schemas/`` and turn its errors into diagnostics.

The schema is the single description of each file format (editors use it too). jsonschema's own
messages are written for schema authors; this module rewrites them for policy authors: unknown keys
get a did-you-mean, type errors name the expected type, and every one carries file:line:col.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from d2._base.diagnostics import Diagnostic, Severity
from d2._base.suggest import suggest
from d2._lang.source import JsonPath, SourceDoc

__all__ = ["load_schema", "schema_diagnostics", "schema_path"]

_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def schema_path(name: str) -> Path:
    """Locate a bundled schema: inside the wheel (d2/_schemas) or, in a source checkout, ./schemas."""
    from importlib import resources

    packaged = resources.files("d2").joinpath("_schemas").joinpath(name)
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "schemas" / name


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Read a bundled JSON Schema once per process."""
    with schema_path(name).open(encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
    return schema


@cache
def inlined_schema(name: str) -> dict[str, Any]:
    """The schema with every ``$ref`` inlined: what both validators run (several times faster)."""
    schema: dict[str, Any] = _inline(load_schema(name), name, load_schema(name))
    return schema


@cache
def _validator(name: str) -> Any:
    """The explaining validator (jsonschema): its errors become diagnostics."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(inlined_schema(name))


def _resolve(ref: str, base_name: str, base: dict[str, Any]) -> tuple[Any, str, dict[str, Any]]:
    target, _, pointer = ref.partition("#")
    name, doc = (target, load_schema(target)) if target else (base_name, base)
    node: Any = doc
    for part in filter(None, pointer.split("/")):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node, name, doc


# Keywords whose value maps names (not keywords) to schemas.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas"})


def _inline(node: Any, name: str, doc: dict[str, Any]) -> Any:
    """Replace every ``$ref`` by the schema it points to (our schemas are not recursive)."""
    if isinstance(node, list):
        return [_inline(item, name, doc) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("$ref", "$defs", "$id", "$schema"):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: _inline(v, name, doc) for k, v in value.items()}
        else:
            out[key] = _inline(value, name, doc)
    if "$ref" in node:
        target, target_name, target_doc = _resolve(node["$ref"], name, doc)
        resolved = _inline(target, target_name, target_doc)
        out = {**resolved, **out} if not (set(out) & set(resolved)) else {"allOf": [resolved, out]}
    if "oneOf" in out:
        out = _discriminate(out)
    return out


def _discriminate(node: dict[str, Any]) -> dict[str, Any]:
    """Turn a ``oneOf`` whose branches differ by JSON type into if/then (each value checked once)."""
    branches = node["oneOf"]
    types = [b.get("type") for b in branches]
    if not all(isinstance(t, str) for t in types) or len(set(types)) != len(types):
        return node
    rest = {k: v for k, v in node.items() if k != "oneOf"}
    rules = [{"if": {"type": t}, "then": b} for t, b in zip(types, branches, strict=True)]
    return {**rest, "type": types, "allOf": rules}


def schema_diagnostics(doc: SourceDoc, schema_name: str = "policy.schema.json") -> list[Diagnostic]:
    """Validate ``doc`` against a bundled schema; return every problem, most specific first per place.

    A compiled validator answers first; only a document it does not accept (or cannot read) is run
    through jsonschema, whose errors explain what is wrong. Both run the same inlined schema.
    """
    from d2._lang.fastschema import fast_accepts

    if fast_accepts(schema_name, doc.data, inlined_schema):
        return []
    validator = _validator(schema_name)
    out: list[Diagnostic] = []
    seen: set[tuple[JsonPath, str]] = set()
    for error in validator.iter_errors(doc.data):
        for leaf in _leaves(error):
            for diag in _translate(doc, leaf):
                key = (diag.path, diag.message)
                if key not in seen:
                    seen.add(key)
                    out.append(diag)
    out.sort(key=lambda d: (d.line, d.col, d.code))
    return out


def _leaves(error: Any) -> Iterator[Any]:
    """For oneOf/anyOf, descend into the branch whose type matched the value; else yield the error."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        yield error
        return
    branches: dict[int, list[Any]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    typed = [errs for errs in branches.values() if not any(_is_top_type_error(e, error) for e in errs)]
    if len(typed) >= 1:
        best = min(typed, key=len)
        for sub in best:
            yield from _leaves(sub)
        return
    yield error


def _is_top_type_error(sub: Any, parent: Any) -> bool:
    return bool(sub.validator == "type" and len(sub.absolute_path) == len(parent.absolute_path))


def _translate(doc: SourceDoc, error: Any) -> Iterator[Diagnostic]:
    path: JsonPath = tuple(error.absolute_path)
    kind = error.validator
    where = _describe(path)
    if kind == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        noun = "operator" if error.schema.get("x-d2-kind") == "operator" else "key"
        context = error.schema.get("x-d2-kind", "mapping")
        if noun == "operator":
            # Name the parameter or field: "unknown operator 'minimum' for 'limit'".
            context = f"for '{path[-1]}'" if path else "in the constraint"
            allowed.discard("description")
        else:
            context = f"in {context}"
        for extra in _extra_keys(error):
            guess = suggest(extra, allowed)
            hint = f"did you mean '{guess}'?" if guess else f"expected one of: {', '.join(sorted(allowed))}"
            code = "D2E101" if noun == "operator" else "D2E002"
            yield _diag(doc, code, f"unknown {noun} '{extra}' {context}", (*path, extra), hint, key=True)
        return
    if kind == "type" or (kind in ("oneOf", "anyOf") and error.context):
        expected = _expected_types(error)
        got = _type_word(error.instance)
        yield _diag(doc, "D2E003", f"{where} must be {expected}, got {got}", path)
        return
    if kind == "required":
        missing = [
            k
            for k in error.validator_value
            if not isinstance(error.instance, dict) or k not in error.instance
        ]
        for name in missing:
            yield _diag(doc, "D2E004", f"{where} is missing required key '{name}'", path, key=True)
        return
    if kind == "enum":
        options = [str(v) for v in error.validator_value]
        guess = suggest(str(error.instance), options) if isinstance(error.instance, str) else None
        hint = f"did you mean '{guess}'?" if guess else f"expected one of: {', '.join(options)}"
        yield _diag(doc, "D2E005", f"{where}: {error.instance!r} is not a valid value", path, hint)
        return
    if kind in ("minItems", "minLength") and error.validator_value == 1:
        yield _diag(doc, "D2E005", f"{where} must not be empty", path)
        return
    if kind == "minimum":
        yield _diag(
            doc, "D2E005", f"{where} must be >= {error.validator_value}, got {error.instance!r}", path
        )
        return
    yield _diag(doc, "D2E005", f"{where}: {error.message}", path)


def _extra_keys(error: Any) -> list[str]:
    import re

    props = error.schema.get("properties", {})
    patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
    inst = error.instance if isinstance(error.instance, dict) else {}
    return [k for k in inst if k not in props and not any(p.search(k) for p in patterns)]


def _expected_types(error: Any) -> str:
    types: list[str] = []
    if error.validator == "type":
        value = error.validator_value
        types = [value] if isinstance(value, str) else list(value)
    else:
        for sub in error.context:
            if sub.validator == "type":
                value = sub.validator_value
                types.extend([value] if isinstance(value, str) else value)
    words = [_TYPE_WORDS.get(t, t) for t in dict.fromkeys(types)]
    return " or ".join(words) if words else "a different value"


def _type_word(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "null"


def _describe(path: JsonPath) -> str:
    if not path:
        return "the document"
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return f"'{text}'"


def _diag(
    doc: SourceDoc, code: str, message: str, path: JsonPath, hint: str | None = None, *, key: bool = False
) -> Diagnostic:
    loc = doc.loc(path, key=key)
    return Diagnostic(code, message, Severity.ERROR, loc.file, loc.line, loc.col, path, hint)
