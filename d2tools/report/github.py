"""GitHub Actions reporter: workflow commands that annotate the pull request at file:line:col."""

from __future__ import annotations

from d2._toolkit import Diagnostic

from ._model import Report

__all__ = ["render"]


def render(report: Report) -> str:
    """One ``::error``/``::warning`` command per diagnostic."""
    return "\n".join(_command(d) for d in report.diagnostics)


def _command(diag: Diagnostic) -> str:
    kind = "error" if diag.is_error else "warning"
    props = ",".join(
        f"{k}={_property(str(v))}"
        for k, v in (("file", diag.file), ("line", diag.line), ("col", diag.col), ("title", diag.code))
    )
    message = diag.message + (f" ({diag.hint})" if diag.hint else "")
    return f"::{kind} {props}::{_data(f'{diag.code} {message}')}"


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
