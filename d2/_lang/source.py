"""Read policy text (YAML or JSON) into plain data plus the source position of every key and value.

One parser for both formats: JSON is parsed as YAML 1.2 (of which it is a subset), so line/column
tracking, duplicate-key detection and error wording are the same whichever format a user writes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from d2._base.diagnostics import Diagnostic, Location, Severity
from d2._lang.positions import JsonPath, Positions, packed_loc
from d2.exceptions import ConfigurationError, PolicyTooLargeError

__all__ = ["DEFAULT_MAX_POLICY_BYTES", "JsonPath", "SourceDoc", "parse_policy_file", "parse_policy_text"]

DEFAULT_MAX_POLICY_BYTES = 16 * 1024 * 1024

_Pos = tuple[int, int]


@dataclass(frozen=True, slots=True)
class SourceDoc:
    """A parsed document: plain Python data and where each part of it came from."""

    file: str
    data: Any
    text: str = ""
    value_pos: Mapping[JsonPath, _Pos] = field(default_factory=dict)
    key_pos: Mapping[JsonPath, _Pos] = field(default_factory=dict)

    def loc(self, path: Sequence[str | int], *, key: bool = False) -> Location:
        """Return the location of ``path`` (its key when ``key``), else of its nearest located ancestor."""
        p = tuple(path)
        keys, values = self.key_pos, self.value_pos
        if type(keys) is Positions and type(values) is Positions:  # the parser's tables: no unpacking
            return packed_loc(self.file, p, key, keys.packed, values.packed)
        while True:
            found = keys.get(p) if key else None
            if found is None:
                found = values.get(p)
            if found is not None:
                return Location(self.file, found[0], found[1])
            if not p:
                return Location(self.file, 1, 1)
            p = p[:-1]
            key = True


def parse_policy_file(path: str | os.PathLike[str], *, max_bytes: int | None = None) -> SourceDoc:
    """Read and parse a policy file, refusing files beyond the memory-safety limit."""
    p = Path(path)
    limit = max_bytes if max_bytes is not None else max_bytes_from_env()
    try:
        size = p.stat().st_size
        if size > limit:
            raise PolicyTooLargeError(
                f"{p}: policy file is {size} bytes, over the {limit}-byte limit; "
                "raise D2_MAX_POLICY_BYTES if this is intended"
            )
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read policy file {p}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        diag = Diagnostic(
            "D2E001", f"file is not valid UTF-8 (byte {exc.start})", Severity.ERROR, str(p), 1, 1
        )
        raise ConfigurationError(f"invalid policy file {p}", diagnostics=[diag]) from exc
    return parse_policy_text(text, str(p))


def parse_policy_text(text: str, file: str = "<policy>") -> SourceDoc:
    """Parse YAML/JSON text; a syntax error becomes a ConfigurationError with file:line:col.

    The text is composed into YAML nodes (libyaml's C parser when ruamel.yaml.clib is present) and
    converted here, so every key and value keeps its position and duplicate keys are caught.
    """
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    from d2._base.gcpause import paused_gc
    from d2._lang.yaml_tree import TreeLimitError

    try:
        with paused_gc():
            tree = _tree(text, file)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = exc.problem or exc.context or "invalid syntax"
        raise _syntax_error(file, line, col, f"syntax error: {problem}") from None
    except YAMLError as exc:
        raise _syntax_error(file, 1, 1, f"syntax error: {exc}") from None
    except TreeLimitError as exc:
        diag = Diagnostic("D2E001", exc.message, Severity.ERROR, file, exc.line, exc.col, (), exc.hint)
        raise ConfigurationError(f"invalid policy file {file}", diagnostics=[diag]) from None
    if tree.problems:
        raise ConfigurationError(f"invalid policy file {file}", diagnostics=tree.problems)
    return SourceDoc(file=file, data=tree.data, text=text, value_pos=tree.value_pos, key_pos=tree.key_pos)


def _tree(text: str, file: str) -> Any:
    """Compose and convert ``text``; the YAML nodes die when this returns.

    The caller pauses the cyclic collector: dropping the node tree (several objects per node) before
    the pause ends keeps the one deferred collection to the converted data alone.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from d2._lang.yaml_tree import compose, convert

    yaml = YAML(typ="safe")
    try:
        node = compose(yaml, text)
    except YAMLError:
        # libyaml follows YAML 1.1 syntax and rejects e.g. `[db:read, web:post]`, which YAML 1.2
        # (and ruamel's own parser) accept; ruamel's parser is the reference, and reports errors.
        yaml = YAML(typ="safe", pure=True)
        node = compose(yaml, text)
    return convert(node, len(text), yaml.constructor, file)


def _syntax_error(file: str, line: int, col: int, message: str) -> ConfigurationError:
    diag = Diagnostic("D2E001", message, Severity.ERROR, file, line, col)
    return ConfigurationError(f"invalid policy file {file}", diagnostics=[diag])


def max_bytes_from_env() -> int:
    raw = os.environ.get("D2_MAX_POLICY_BYTES")
    if not raw:
        return DEFAULT_MAX_POLICY_BYTES
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"D2_MAX_POLICY_BYTES must be an integer byte count, got {raw!r}") from None
