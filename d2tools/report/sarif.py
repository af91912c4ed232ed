"""SARIF 2.1.0 reporter, for GitHub code scanning and other static-analysis dashboards."""

from __future__ import annotations

import json
from typing import Any

from d2._toolkit import Diagnostic

from ._model import Report

__all__ = ["SARIF_SCHEMA", "SARIF_VERSION", "render", "sarif_log"]

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_INFO_URI = "https://github.com/d2-guard/d2/blob/main/docs/lint-codes.md"


def sarif_log(report: Report) -> dict[str, Any]:
    """Build the SARIF log: one run, one rule per code used, one result per diagnostic."""
    codes = sorted({d.code for d in report.diagnostics})
    index = {code: i for i, code in enumerate(codes)}
    driver: dict[str, Any] = {
        "name": report.tool,
        "informationUri": _INFO_URI,
        "rules": [_rule(c) for c in codes],
    }
    if report.version:
        driver["version"] = report.version
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "results": [_result(d, index[d.code]) for d in report.diagnostics],
        "columnKind": "unicodeCodePoints",
    }
    if report.files:
        run["artifacts"] = [{"location": {"uri": _uri(f)}} for f in report.files]
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def render(report: Report) -> str:
    """Render the report as a SARIF 2.1.0 JSON document."""
    return json.dumps(sarif_log(report), indent=2, ensure_ascii=False)


def _rule(code: str) -> dict[str, Any]:
    from d2tools.lint.codes import lookup

    info = lookup(code)
    rule: dict[str, Any] = {"id": code, "helpUri": _INFO_URI}
    if info is not None:
        rule["shortDescription"] = {"text": info.title}
        rule["help"] = {"text": info.fix}
        rule["defaultConfiguration"] = {"level": "error" if info.severity.value == "error" else "warning"}
    return rule


def _result(diag: Diagnostic, rule_index: int) -> dict[str, Any]:
    text = diag.message + (f" ({diag.hint})" if diag.hint else "")
    return {
        "ruleId": diag.code,
        "ruleIndex": rule_index,
        "level": "error" if diag.is_error else "warning",
        "message": {"text": text},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(diag.file)},
                    "region": {"startLine": max(diag.line, 1), "startColumn": max(diag.col, 1)},
                }
            }
        ],
    }


def _uri(path: str) -> str:
    """A relative URI reference with forward slashes and percent-encoding, as SARIF requires."""
    from urllib.parse import quote

    return quote(path.replace("\\", "/"), safe="/:@-._~")
