"""What counts as a d2 policy file, for directory arguments, ``--only-policies`` and the pre-commit hook.

A file is a d2 policy when the ``[tool.d2] policies`` globs list it; when no globs are set, when it has
a name the runtime discovers (``policy.yaml``/``.yml``/``.json``) or ends in ``.policy.yaml`` (or
``.yml``/``.json``), or when its first lines point at d2's policy schema (the ``$schema`` line
``d2 init`` writes). Other YAML/JSON files — CI configs, another tool's ``*_policy.json`` fixtures —
are not ours to lint. Scenario files (``*.d2test.yaml``) are never policies.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from ._config import Config

__all__ = ["collect_policies", "has_schema_marker", "is_policy_file"]

_NAMES = re.compile(r"(?:policy|.+\.policy)\.(?:ya?ml|json)", re.IGNORECASE)
_SUFFIXES = (".yaml", ".yml", ".json")
_MARKER = re.compile(r"\$schema[\"']?\s*[=:]\s*[\"']?[^\s\"']*d2[^\s\"']*policy\.schema\.json")
_SKIP_DIRS = frozenset({"node_modules", "__pycache__", "venv", "env", "build", "dist", "site-packages"})


def has_schema_marker(path: Path) -> bool:
    """Whether the file's first 4 KiB name d2's policy schema in a ``$schema`` line or key."""
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return _MARKER.search(head) is not None


def is_policy_file(path: Path, config: Config) -> bool:
    """Apply the rule in this module's docstring to one file."""
    name = path.name.lower()
    if not name.endswith(_SUFFIXES) or ".d2test." in name:
        return False
    if config.policies:
        return config.is_listed(path)
    return _NAMES.fullmatch(path.name) is not None or has_schema_marker(path)


def collect_policies(targets: Iterable[Path], config: Config) -> list[Path]:
    """Expand directories recursively into the policy files under them; files are kept as given."""
    out: list[Path] = []
    for target in targets:
        if not target.is_dir():
            out.append(target)
            continue
        for root, dirs, files in os.walk(target):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
            for name in sorted(files):
                path = Path(root) / name
                if is_policy_file(path, config):
                    out.append(path)
    return list(dict.fromkeys(out))
