"""The starter scenario file ``d2 init`` writes beside a starter policy.

It must pass against any policy (so a fresh project's ``d2 test`` is green): its one live case checks
default deny, which holds for every policy, and a commented case shows how to write the rest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

__all__ = ["starter_scenario"]

_HEADER = """\
# d2 policy scenarios: run with `d2 test DIR` (and by plain `pytest`, through the d2 plugin).
# Each case is one request: a user with roles calls tools in order, and every step states what
# the policy must decide (expect: allow is the default). Format: docs/testing.md in the d2 docs.
"""


def starter_scenario(
    tool_ids: list[str],
    policy_path: str,
    *,
    grants: Mapping[str, Sequence[str]] | None = None,
    schema_line: str | None = None,
) -> str:
    """Return the text of a starter ``*.d2test.yaml`` for ``tool_ids`` testing ``policy_path``.

    ``policy_path`` is written as given, so pass it relative to where the file will be saved; pass
    ``""`` to leave it out (the runner then finds the nearest ``policy.yaml`` upwards, or uses
    ``D2_POLICY_FILE``). ``grants`` (role -> tools it is given) adds a case per grant, so the file
    exercises the starter policy's own rules; without it the file passes against any policy.
    """
    tools = sorted(dict.fromkeys(t for t in tool_ids if t)) or ["example.tool"]
    lines = [schema_line] if schema_line else []
    lines.append(_HEADER.rstrip("\n"))
    if policy_path:
        lines.append(f"policy: {json.dumps(policy_path)}")
    lines += [
        "",
        "cases:",
        "  # Default deny: a user holding no role may call none of the tools.",
        '  - name: "no role, no access: {tool}"',
        "    roles: []",
        "    steps:",
        '      - call: "{tool}"',
        "        expect: deny",
        "    where:",
        "      columns: [tool]",
        "      rows:",
        *(f"        - [{json.dumps(t)}]" for t in tools),
        "",
        *_grant_cases(grants or {}),
        *_example(tools),
    ]
    return "\n".join(lines) + "\n"


def _grant_cases(grants: Mapping[str, Sequence[str]]) -> list[str]:
    """One table per role: each tool it is granted is allowed (the policy's rules, exercised)."""
    lines: list[str] = []
    for role, granted in grants.items():
        tools = sorted(dict.fromkeys(t for t in granted if t))
        if not tools:
            continue
        lines += [
            f"  # The policy grants these tools to {role}: an edit that takes one away fails here.",
            f'  - name: "{_plain(role)} may call {{tool}}"',
            f"    roles: [{json.dumps(role)}]",
            "    steps:",
            '      - call: "{tool}"',
            "    where:",
            "      columns: [tool]",
            "      rows:",
            *(f"        - [{json.dumps(t)}]" for t in tools),
            "",
        ]
    return lines


def _plain(text: str) -> str:
    """A role name inside a double-quoted case name: no quotes, backslashes or braces."""
    return "".join(ch for ch in text if ch not in '"\\{}' and ch.isprintable())


def _example(tools: Sequence[str]) -> list[str]:
    first = tools[0]
    second = tools[1] if len(tools) > 1 else tools[0]
    return [
        "  # Write the cases your policy exists for. For example:",
        "  # - name: a viewer reads but may not change anything",
        "  #   user: alice",
        "  #   roles: [viewer]",
        "  #   steps:",
        f"  #     - call: {json.dumps(first)}",
        "  #       args: {limit: 10}          # by name; positional args need `tools:` or --code",
        f"  #     - call: {json.dumps(second)}",
        "  #       expect: {deny: rbac}       # or input_validation, sequence_violation, ...",
    ]
