"""``d2 lint --vendor``: where a policy written for the vendor SDK (d2-sdk) behaves differently here.

The policy is still checked by the one validator (typos the vendor ignored are errors here); these
notes add, at each place it matters, what changes when the same file runs on d2. They are warnings
(``D2M...``) so a migrating team can review them, fix what needs fixing and silence the rest.
See docs/migrating.md for the reasons behind each difference.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from d2._toolkit import Diagnostic, JsonPath, Severity, SourceDoc

__all__ = ["VENDOR_NOTES", "vendor_notes"]

# code -> (what changed, what to do); the catalogue in codes.py and docs/migrating.md name them too.
VENDOR_NOTES: dict[str, tuple[str, str]] = {
    "D2M001": (
        "'allow: false' is enforced: this role is refused '{tool}' (the vendor SDK still granted it)",
        "keep it if the deny is meant; delete the entry to grant the tool",
    ),
    "D2M002": (
        "'{ref}' in permissions grants every tool of the group here (the vendor SDK granted nothing for it)",
        "check that the role should have every tool of the group",
    ),
    "D2M003": (
        "output rules apply to every item of a list result here, not only the first",
        "run your scenarios: results that passed before may now be refused or redacted",
    ),
    "D2M004": (
        "no cap on the policy's lifetime: d2 honours 'expires' as written (the vendor SDK capped it)",
        "set the expiry you really want, or drop it",
    ),
    "D2M005": (
        "'{tool}' is granted by several roles, some with conditions: a user holding them is allowed "
        "when any one grant passes (the vendor SDK required all)",
        "give a user only the roles they need, or put the same conditions on every grant",
    ),
    "D2M006": (
        "a one-element deny pattern forbids '{tool}' outright here (the vendor SDK ignored it)",
        "remove the pattern, or deny the tool with 'allow: false' to say the same thing plainly",
    ),
}


def vendor_notes(doc: SourceDoc) -> list[Diagnostic]:
    """Every place where ``doc`` (a vendor-format policy) will behave differently on d2."""
    data = doc.data if isinstance(doc.data, Mapping) else {}
    notes: list[Diagnostic] = []

    def note(code: str, path: JsonPath, *, key: bool = False, **fields: str) -> None:
        message, hint = VENDOR_NOTES[code]
        loc = doc.loc(path, key=key)
        notes.append(
            Diagnostic(
                code,
                message.format(**fields),
                Severity.WARNING,
                loc.file,
                loc.line,
                loc.col,
                tuple(path),
                hint,
            )
        )

    meta = data.get("metadata")
    if isinstance(meta, Mapping) and "expires" in meta:
        note("D2M004", ("metadata", "expires"), key=True)
    conditional: dict[str, list[bool]] = {}
    first_seen: dict[str, JsonPath] = {}
    for entry, path in _role_entries(data):
        for j, perm in enumerate(_as_list(entry.get("permissions"))):
            ppath = (*path, "permissions", j)
            tool, allowed, has_conditions = _permission(perm)
            if tool is None:
                continue
            if not allowed:
                note("D2M001", ppath, tool=tool)
                continue
            if tool.startswith("@"):
                note("D2M002", ppath, ref=tool)
            conditional.setdefault(tool, []).append(has_conditions)
            first_seen.setdefault(tool, ppath)
            if isinstance(perm, Mapping) and isinstance(perm.get("conditions"), Mapping):
                if "output" in perm["conditions"]:
                    note("D2M003", (*ppath, "conditions", "output"), key=True)
        for k, rule in enumerate(_as_list(entry.get("sequence"))):
            if isinstance(rule, Mapping) and isinstance(rule.get("deny"), list) and len(rule["deny"]) == 1:
                note("D2M006", (*path, "sequence", k, "deny"), key=True, tool=str(rule["deny"][0]))
    for tool, flags in conditional.items():
        if len(flags) > 1 and any(flags) and not all(flags):
            note("D2M005", first_seen[tool], tool=tool)
    return sorted(notes, key=lambda d: (d.line, d.col, d.code))


def _role_entries(data: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], JsonPath]]:
    for key in ("policies", "roles"):
        for i, entry in enumerate(_as_list(data.get(key))):
            if isinstance(entry, Mapping):
                yield entry, (key, i)


def _permission(perm: Any) -> tuple[str | None, bool, bool]:
    """(tool or @group, allowed, has input conditions) of one permissions entry."""
    if isinstance(perm, str):
        return perm, True, False
    if isinstance(perm, Mapping) and isinstance(perm.get("tool"), str):
        conditions = perm.get("conditions")
        has_input = isinstance(conditions, Mapping) and bool(conditions.get("input"))
        return perm["tool"], perm.get("allow", True) is not False, has_input
    return None, True, False


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
