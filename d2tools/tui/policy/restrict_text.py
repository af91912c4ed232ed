"""A restriction fragment as the two texts an engineer pastes: a YAML ``restrict:`` body and Python.

The YAML is block mappings with JSON scalars and flow lists (JSON is valid YAML), so no quoting rule
of YAML has to be re-implemented: :func:`d2tools.tui.policy.restrictions.check_example` parses it back
with the policy parser and compiles that, and refuses to show text that does not read back the same.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["python_text", "yaml_text"]

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")
_KEYWORDS = ("tools", "deny", "conditions", "sequence")


def yaml_text(fragment: Mapping[str, Any]) -> str:
    """The fragment as YAML (the value of a scenario step's ``restrict:`` or a policy example)."""
    return "\n".join(_yaml(fragment, 0)) + "\n"


def _yaml(value: Mapping[str, Any], depth: int) -> list[str]:
    pad = "  " * depth
    out = []
    for key, item in value.items():
        name = _key(key)
        if isinstance(item, Mapping) and item and not _leafy(item):
            out.append(f"{pad}{name}:")
            out += _yaml(item, depth + 1)
        elif isinstance(item, list) and any(isinstance(x, Mapping) for x in item):
            out.append(f"{pad}{name}:")
            for element in item:
                if isinstance(element, Mapping) and element:
                    body = _yaml(element, depth + 2)
                    out.append(f"{pad}  - {body[0].lstrip()}")
                    out += body[1:]
                else:
                    out.append(f"{pad}  - {_flow(element)}")
        else:
            out.append(f"{pad}{name}: {_flow(item)}")
    return out


def _key(key: Any) -> str:
    return str(key) if _PLAIN_KEY.match(str(key)) else json.dumps(str(key), ensure_ascii=False)


def _leafy(value: Mapping[str, Any]) -> bool:
    """A small mapping of scalars (an operator and its operand) reads best on one line."""
    return len(value) <= 3 and all(not isinstance(v, (Mapping, list)) for v in value.values())


def _flow(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def python_text(fragment: Mapping[str, Any], name: str) -> str:
    """``with d2.restrict(...):`` with the fragment's parts as keywords (a fragment mapping otherwise)."""
    if set(fragment) <= set(_KEYWORDS):
        parts = [f"    {key}={_py(fragment[key])}," for key in _KEYWORDS if key in fragment]
    else:  # e.g. a description or x- keys: only the mapping form carries them
        parts = [f"    {_py(dict(fragment))},"]
    parts.append(f"    name={name!r},")
    return "with d2.restrict(\n" + "\n".join(parts) + "\n):\n    ...  # the calls this request makes\n"


def _py(value: Any) -> str:
    """A Python literal for plain data (``repr`` of str/int/float/bool/None, lists and dicts)."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_py(k)}: {_py(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_py(v) for v in value) + "]"
    return repr(value)
