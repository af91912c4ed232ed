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

from ._diagnostics import Diagnostic, Location, Severity
from .exceptions import ConfigurationError, PolicyTooLargeError

__all__ = ["DEFAULT_MAX_POLICY_BYTES", "JsonPath", "SourceDoc", "parse_policy_file", "parse_policy_text"]

JsonPath = tuple[str | int, ...]
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
        while True:
            if key and p in self.key_pos:
                line, col = self.key_pos[p]
                return Location(self.file, line, col)
            if p in self.value_pos:
                line, col = self.value_pos[p]
                return Location(self.file, line, col)
            if not p:
                return Location(self.file, 1, 1)
            p = p[:-1]
            key = True


def parse_policy_file(path: str | os.PathLike[str], *, max_bytes: int | None = None) -> SourceDoc:
    """Read and parse a policy file, refusing files beyond the memory-safety limit."""
    p = Path(path)
    limit = max_bytes if max_bytes is not None else _max_bytes_from_env()
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
    """Parse YAML/JSON text; a syntax error becomes a ConfigurationError with file:line:col."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt", pure=True)
    # Timestamps stay strings: the schema and the expiry parser decide what is valid, not YAML's resolver.
    yaml.constructor.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_string)
    try:
        node = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = exc.problem or exc.context or "invalid syntax"
        diag = Diagnostic("D2E001", f"syntax error: {problem}", Severity.ERROR, file, line, col)
        raise ConfigurationError(f"invalid policy file {file}", diagnostics=[diag]) from None
    except YAMLError as exc:
        diag = Diagnostic("D2E001", f"syntax error: {exc}", Severity.ERROR, file, 1, 1)
        raise ConfigurationError(f"invalid policy file {file}", diagnostics=[diag]) from None
    value_pos: dict[JsonPath, _Pos] = {(): (1, 1)}
    key_pos: dict[JsonPath, _Pos] = {}
    data = _plain(node, (), value_pos, key_pos)
    return SourceDoc(file=file, data=data, text=text, value_pos=value_pos, key_pos=key_pos)


def _timestamp_as_string(constructor: Any, node: Any) -> str:
    return str(constructor.construct_scalar(node))


def _plain(node: Any, path: JsonPath, value_pos: dict[JsonPath, _Pos], key_pos: dict[JsonPath, _Pos]) -> Any:
    """Convert ruamel's round-trip nodes to plain types, recording 1-based positions on the way."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(node, CommentedMap):
        out: dict[str, Any] = {}
        for k, v in node.items():
            key = str(k)
            child = (*path, key)
            kl, kc = node.lc.key(k)
            vl, vc = node.lc.value(k)
            key_pos[child] = (kl + 1, kc + 1)
            value_pos[child] = (vl + 1, vc + 1)
            out[key] = _plain(v, child, value_pos, key_pos)
        return out
    if isinstance(node, CommentedSeq):
        items: list[Any] = []
        for i, v in enumerate(node):
            child = (*path, i)
            il, ic = node.lc.item(i)
            value_pos[child] = (il + 1, ic + 1)
            items.append(_plain(v, child, value_pos, key_pos))
        return items
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return str(node)


def _max_bytes_from_env() -> int:
    raw = os.environ.get("D2_MAX_POLICY_BYTES")
    if not raw:
        return DEFAULT_MAX_POLICY_BYTES
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"D2_MAX_POLICY_BYTES must be an integer byte count, got {raw!r}") from None
