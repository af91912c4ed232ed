"""``d2 lint --fix``: apply only the fixes that cannot change a single decision.

A fix is safe when the policy decides every call exactly as before: deleting a group member listed
twice (D2W005), a grant that ``*`` already gives the same roles with no output rules (D2W702), or a
plain tool id repeated in the same permission list (D2W004). Nothing that touches a deny, a condition
or an output rule is ever rewritten. Edits go through ruamel.yaml's round-trip mode, so comments and
layout survive; after editing, the new text must compile and grant exactly what the old one did, or
the file is left alone.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from d2._toolkit import Diagnostic, compile_policy, parse_policy_text

__all__ = ["SAFE_FIXES", "apply_fixes"]

SAFE_FIXES = frozenset({"D2W004", "D2W005", "D2W702"})


def _item_path(d: Diagnostic) -> tuple[str | int, ...] | None:
    path = tuple(d.path)
    if path and path[-1] == "tool":
        path = path[:-1]
    return path if path and isinstance(path[-1], int) else None


def _node(data: Any, path: Sequence[str | int]) -> Any:
    for part in path:
        data = data[part]
    return data


def _safe(data: Any, d: Diagnostic, path: tuple[str | int, ...]) -> bool:
    try:
        parent = _node(data, path[:-1])
        item = parent[path[-1]]
    except (KeyError, IndexError, TypeError):
        return False
    if d.code == "D2W005":
        return isinstance(item, str)
    if d.code == "D2W004":
        index = int(path[-1])
        return isinstance(item, str) and item in [p for p in parent[:index] if isinstance(p, str)]
    if d.code == "D2W702":
        if isinstance(item, str):
            return True
        cond = item.get("conditions") if hasattr(item, "get") else None
        allowed = item.get("allow", True) is not False if hasattr(item, "get") else False
        return allowed and not (cond is not None and hasattr(cond, "get") and "output" in cond)
    return False


def apply_fixes(path: Path, diagnostics: Sequence[Diagnostic]) -> int:
    """Apply the safe fixes among ``diagnostics`` to ``path``; return how many were applied."""
    text = path.read_text(encoding="utf-8")
    is_json = path.suffix.lower() == ".json"
    yaml = _yaml()
    data = json.loads(text) if is_json else yaml.load(text)
    chosen = []
    for d in diagnostics:
        item = _item_path(d) if d.code in SAFE_FIXES else None
        if item is not None and _safe(data, d, item):
            chosen.append(item)
    # Delete from the end of each list so the indexes still to delete stay valid.
    for item in sorted(set(chosen), key=lambda p: int(p[-1]), reverse=True):
        del _node(data, item[:-1])[item[-1]]
    if not chosen:
        return 0
    if is_json:
        new = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        out = io.StringIO()
        yaml.dump(data, out)
        new = out.getvalue()
    if not _same_decisions(text, new, str(path)):
        return 0
    path.write_text(new, encoding="utf-8")
    return len(set(chosen))


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _same_decisions(old: str, new: str, label: str) -> bool:
    """The fixed policy must compile and hold the same grants, denies and wildcards as before."""
    before = compile_policy(parse_policy_text(old, label)).policy
    after = compile_policy(parse_policy_text(new, label)).policy
    if before is None or after is None:
        return False

    def shape(p: Any) -> Any:
        grants = {t: sorted(r for r in roles if r not in p.wildcard) for t, roles in p.grants.items()}
        return (
            {t: roles for t, roles in grants.items() if roles},
            {t: sorted(roles) for t, roles in p.denies.items()},
            sorted(p.wildcard),
            {g: sorted(m) for g, m in p.tool_groups.items()},
        )

    return bool(shape(before) == shape(after))
