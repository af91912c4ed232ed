"""Tool references shared by the sequence and data-flow compilers: resolution, typo hints, one report.

A misspelt tool id in a deny pattern or a data-flow block never matches anything, which silently
turns the rule off. Groups are checked by :meth:`CompileContext.expand`; a plain tool id cannot be
"undefined" (a tool granted only through ``*`` appears nowhere else), so a name that nothing else in
the policy mentions but that closely resembles one that is mentioned gets a warning with the guess.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from d2._lang.source import JsonPath

if TYPE_CHECKING:
    from d2._lang.compile_context import CompileContext

__all__ = ["error_once", "known_tools", "likely_typo", "resolve_ref"]

# Tool ids of one application are often alike (report.save, report.approve), so only near-identical
# names count as a typo: one dropped, doubled or swapped character in a typical id.
_TYPO_CUTOFF = 0.85


def error_once(ctx: CompileContext, code: str, message: str, path: JsonPath, hint: str | None = None) -> None:
    """Report an error unless the shape check already reported one at ``path`` (no double reports)."""
    where = tuple(path)
    if any(d.is_error and d.path == where for d in ctx.diagnostics):
        return
    ctx.error(code, message, path, hint=hint)


def known_tools(ctx: CompileContext) -> frozenset[str]:
    """Collect the tool ids the policy grants, denies or groups (the vocabulary for typo hints)."""
    names: set[str] = set()
    for members in ctx.tool_groups.values():
        names |= members
    for ref in _permission_refs(ctx.doc.data):
        if ref != "*" and not ref.startswith("@"):
            names.add(ref)
    return frozenset(names)


def _permission_refs(data: Any) -> Iterator[str]:
    if not isinstance(data, dict):
        return
    for key in ("policies", "roles"):
        entries = data.get(key)
        if not isinstance(entries, list):
            continue
        for entry in entries:
            perms = entry.get("permissions") if isinstance(entry, dict) else None
            for perm in perms if isinstance(perms, list) else ():
                if isinstance(perm, str):
                    yield perm
                elif isinstance(perm, dict) and isinstance(perm.get("tool"), str):
                    yield perm["tool"]


def resolve_ref(
    ctx: CompileContext,
    ref: str,
    path: JsonPath,
    *,
    known: frozenset[str],
    typo_code: str,
    where: str,
) -> frozenset[str] | None:
    """Resolve a tool id or ``@group`` used in ``where``; warn when a tool id looks like a typo."""
    members = ctx.expand(ref, path)
    if members is None or ref.startswith("@"):
        if members is not None and not members:
            ctx.warning(
                typo_code,
                f"tool group '{ref}' is empty, so this step of the {where} never matches",
                path,
                hint="add member tools to the group",
            )
        return members
    if ref not in known:
        guess = likely_typo(ref, known)
        if guess is not None:
            ctx.warning(
                typo_code,
                f"tool '{ref}' in the {where} is not granted, denied or grouped anywhere in the policy",
                path,
                hint=f"did you mean '{guess}'? A misspelt tool never matches, which turns the rule off",
            )
    return members


def likely_typo(name: str, known: frozenset[str]) -> str | None:
    """Return the known tool id ``name`` is most likely a misspelling of, or None."""
    import difflib

    lowered = name.lower()
    for candidate in sorted(known):
        if candidate.lower() == lowered:
            return candidate
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=_TYPO_CUTOFF)
    return close[0] if close else None
