"""``d2 init --check``: compare the tools the code guards with the tools a policy names.

A policy that grants ``*`` only does not "name" tools; tools listed in ``metadata.tool_groups`` do.
Drift both ways is reported as errors at a clickable place: a tool missing from the policy at its
guard in the code, a tool the code no longer has at its line in the policy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from d2._toolkit import Diagnostic, Severity

if TYPE_CHECKING:
    from d2._toolkit import SourceDoc
    from d2tools.scanner import ScanResult

__all__ = ["MISSING_FROM_POLICY", "NOT_IN_CODE", "drift"]

MISSING_FROM_POLICY = "D2E710"
NOT_IN_CODE = "D2E711"


def drift(doc: SourceDoc, result: ScanResult) -> list[Diagnostic]:
    """Return one diagnostic per tool guarded but not named, and per tool named but not guarded."""
    from d2._toolkit import suggest
    from d2tools.lint import named_tools, stale_tool_hint

    named = named_tools(doc)
    guarded = result.tools_by_id()
    out: list[Diagnostic] = []
    for tool_id, sites in guarded.items():
        if tool_id in named:
            continue
        guess = suggest(tool_id, [t for t in named if t not in guarded])
        fix = f"the policy names '{guess}': did you mean '{tool_id}'?" if guess else None
        for site in sites:
            out.append(
                Diagnostic(
                    MISSING_FROM_POLICY,
                    f"'{tool_id}' is guarded here but {doc.file} does not name it",
                    Severity.ERROR,
                    site.file,
                    site.line,
                    site.col,
                    hint=fix or "grant it to a role (or deny it explicitly)",
                )
            )
    unresolved = sum(1 for f in result.findings if f.code.value == "D2S003")
    for tool_id, path in named.items():
        if tool_id not in guarded:
            hint = stale_tool_hint(tool_id, guarded, unresolved)
            loc = doc.loc(path)
            out.append(
                Diagnostic(
                    NOT_IN_CODE,
                    f"'{tool_id}' is named in the policy but no scanned code guards it",
                    Severity.ERROR,
                    loc.file,
                    loc.line,
                    loc.col,
                    tuple(path),
                    hint,
                )
            )
    return out
