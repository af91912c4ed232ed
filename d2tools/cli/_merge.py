"""``d2 init --merge``: add newly guarded tools to an existing policy and keep every edit in it.

Only tools the policy does not name yet are added, to the first entry of one role (``developer`` by
default; a new entry at the end when the role has none), each with a ``# file:line`` comment. The file
goes through ruamel.yaml's round-trip mode, so comments, order and quoting survive; nothing already in
the policy is changed or removed, so a deny or a condition written by hand stays as it is.
"""

from __future__ import annotations

import io
import json
from collections.abc import MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._starter import Starter

__all__ = ["MergeError", "merge_starter"]


class MergeError(ValueError):
    """The existing policy cannot be merged into (it does not parse, or has no role list)."""


def merge_starter(path: Path, starter: Starter, *, role: str) -> list[str]:
    """Add the starter's tools the policy at ``path`` does not name to ``role``; return the added ids."""
    from d2._toolkit import parse_policy_file
    from d2.exceptions import D2Error
    from d2tools.lint import named_tools

    try:
        named = named_tools(parse_policy_file(path))
    except D2Error as exc:
        raise MergeError(
            f"{path} does not parse, so nothing was merged: {str(exc).splitlines()[0]}"
        ) from None
    added = [t for t in starter.tools if t not in named]
    if not added:
        return []
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        data = json.loads(text)
        _permissions(data, role, path).extend(added)
        new = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        new = _merge_yaml(text, starter, added, role, path)
    path.write_text(new, encoding="utf-8")
    return added


def _merge_yaml(text: str, starter: Starter, added: list[str], role: str, path: Path) -> str:
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedSeq

    from ._starter import _where

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    data = yaml.load(text)
    perms = _permissions(data, role, path)
    if isinstance(perms, CommentedSeq) and perms.fa.flow_style():
        perms.fa.set_block_style()  # one grant per line, so each can carry its file:line comment
    column = 6 + 2 + max(len(t) for t in added) + 2  # after "      - <id>", aligned like d2 init's
    for tool in added:
        perms.append(tool)
        if isinstance(perms, CommentedSeq):
            comment = f"# added by d2 init --merge: {_where(starter.tools[tool])}"
            perms.yaml_add_eol_comment(comment, len(perms) - 1, column=column)
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _permissions(data: Any, role: str, path: Path) -> Any:
    """The ``permissions`` list of ``role``'s first single-role entry, created when missing."""
    if not isinstance(data, MutableMapping):
        raise MergeError(f"{path} is not a mapping with a 'policies' list; nothing was merged")
    key = "roles" if "roles" in data and "policies" not in data else "policies"
    entries = data.get(key)
    if entries is None:
        data[key] = entries = []
    if not isinstance(entries, list):
        raise MergeError(f"{path}: '{key}' is not a list; nothing was merged")
    for entry in entries:
        if isinstance(entry, MutableMapping) and entry.get("role") == role:
            perms = entry.get("permissions")
            if perms is None:
                entry["permissions"] = perms = []
            if not isinstance(perms, list):
                raise MergeError(f"{path}: the permissions of role '{role}' are not a list")
            return perms
    if hasattr(entries, "fa"):  # a ruamel.yaml document: new nodes take its types, so comments attach
        from ruamel.yaml.comments import CommentedMap, CommentedSeq

        entries.append(CommentedMap([("role", role), ("permissions", CommentedSeq())]))
    else:
        entries.append({"role": role, "permissions": []})
    return entries[-1]["permissions"]
