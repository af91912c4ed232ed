"""Check a policy against the code it guards (``d2 lint --code DIR``), using the source scanner.

Two mistakes only the code can reveal: an input condition naming a parameter the function does not
have (the runtime refuses such a policy when the decorator meets it; lint says so before deploy), and
a tool the policy grants that no scanned function guards (a rename or a deletion left it behind).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from d2._toolkit import CompiledPolicy, Diagnostic, JsonPath, SourceDoc, suggest

from ._diag import make
from ._entries import Permission, permissions

if TYPE_CHECKING:
    from d2tools.scanner import GuardedTool, ProgressCallback

__all__ = ["CodeIndex", "check_against_code", "named_tools", "scan_code", "stale_tool_hint"]


@dataclass(frozen=True, slots=True)
class CodeIndex:
    """What the scanner found: guarded functions by tool id, plus its own findings as diagnostics."""

    tools: Mapping[str, tuple[GuardedTool, ...]]
    findings: tuple[Diagnostic, ...] = ()
    unresolved: int = 0  # guards whose id is computed at run time
    files_scanned: int = 0
    roots: tuple[str, ...] = field(default=())


def scan_code(
    paths: Sequence[Path], *, root: Path | None = None, on_progress: ProgressCallback | None = None
) -> CodeIndex:
    """Scan ``paths`` and index the result; file names are shown relative to ``root`` (default: cwd)."""
    from d2tools.scanner import IdSource, scan

    result = scan(list(paths), root=root or Path.cwd(), on_progress=on_progress)
    unresolved = sum(1 for t in result.tools if t.id_source is IdSource.UNRESOLVED)
    return CodeIndex(
        tools=result.tools_by_id(),
        findings=tuple(f.to_diagnostic() for f in result.findings),
        unresolved=unresolved,
        files_scanned=result.files_scanned,
        roots=tuple(str(p) for p in paths),
    )


def check_against_code(doc: SourceDoc, policy: CompiledPolicy | None, code: CodeIndex) -> list[Diagnostic]:
    """Return D2E702 (unknown parameter) and D2E711 (tool no code guards) diagnostics.

    ``policy`` may be None (the document has errors): the checks then read the groups as written, so
    one run reports every problem of every stage instead of hiding these behind the first error.
    """
    groups = dict(policy.tool_groups) if policy is not None else _raw_groups(doc)
    out = list(_unknown_parameters(doc, groups, code))
    out += _stale_tools(doc, code)
    return out


def _raw_groups(doc: SourceDoc) -> dict[str, frozenset[str]]:
    data = doc.data if isinstance(doc.data, Mapping) else {}
    meta = data.get("metadata")
    groups = meta.get("tool_groups") if isinstance(meta, Mapping) else None
    if not isinstance(groups, Mapping):
        return {}
    return {
        str(name): frozenset(m for m in members if isinstance(m, str))
        for name, members in groups.items()
        if isinstance(members, list)
    }


def _expand(groups: Mapping[str, frozenset[str]], ref: str) -> frozenset[str]:
    if ref.startswith("@"):
        return frozenset(groups.get(ref[1:], frozenset()))
    return frozenset((ref,))


def _unknown_parameters(
    doc: SourceDoc, groups: Mapping[str, frozenset[str]], code: CodeIndex
) -> Iterator[Diagnostic]:
    for perm in permissions(doc.data):
        inputs = perm.conditions.get("input") if perm.allow and perm.conditions is not None else None
        if not isinstance(inputs, Mapping):
            continue
        for name in inputs:
            problem = _first_mismatch(groups, perm, str(name), code)
            if problem is not None:
                yield make(
                    doc,
                    "D2E702",
                    problem[0],
                    (*perm.path, "conditions", "input", str(name)),
                    key=True,
                    hint=problem[1],
                )


def _first_mismatch(
    groups: Mapping[str, frozenset[str]], perm: Permission, name: str, code: CodeIndex
) -> tuple[str, str] | None:
    """Describe the first guarded function of ``perm``'s tools that lacks parameter ``name``."""
    for tool_id in sorted(_expand(groups, perm.ref)):
        for fn in code.tools.get(tool_id, ()):
            if fn.parameters is None or fn.has_var_keyword:
                continue
            names = [p.name for p in fn.parameters]
            if name in names:
                continue
            shown = ", ".join(names)
            where = f"{fn.qualname or tool_id}({shown}) at {fn.file}:{fn.line}"
            guess = suggest(name, [n for n in names if n not in ("self", "cls")])
            hint = f"did you mean '{guess}'?" if guess else "name one of the function's parameters"
            return (
                f"input condition names '{name}', but {where} (tool '{tool_id}') has no such parameter",
                hint,
            )
    return None


def named_tools(doc: SourceDoc) -> dict[str, JsonPath]:
    """Every tool id the policy names (grants, denies, group members), with the first place it is named."""
    found: dict[str, JsonPath] = {}
    data = doc.data if isinstance(doc.data, Mapping) else {}
    meta = data.get("metadata")
    groups = meta.get("tool_groups") if isinstance(meta, Mapping) else None
    for perm in permissions(data):
        if not perm.ref.startswith("@") and perm.ref != "*":
            found.setdefault(perm.ref, perm.ref_path)
    if isinstance(groups, Mapping):
        for name, members in groups.items():
            if isinstance(members, list):
                for i, member in enumerate(members):
                    if isinstance(member, str) and not member.startswith("@") and member != "*":
                        found.setdefault(member, ("metadata", "tool_groups", str(name), i))
    return dict(sorted(found.items(), key=lambda item: doc.loc(item[1]).line))


def stale_tool_hint(tool: str, guarded: Iterable[str], unresolved: int) -> str:
    """The fix for a tool no code guards: the guarded id it was probably meant to be, else delete it."""
    guess = suggest(tool, list(guarded))
    hint = f"did you mean '{guess}'?" if guess else "delete it or fix the id"
    if unresolved:
        hint += f"; {unresolved} guard(s) have ids the scanner cannot resolve (D2S003)"
    return hint


def _stale_tools(doc: SourceDoc, code: CodeIndex) -> Iterator[Diagnostic]:
    for tool, path in named_tools(doc).items():
        if tool not in code.tools:
            hint = stale_tool_hint(tool, code.tools, code.unresolved)
            yield make(
                doc, "D2E711", f"the policy names '{tool}', but no scanned code guards it", path, hint=hint
            )
