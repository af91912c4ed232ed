"""A bad file is a finding at file:line:col; it never stops the scan or raises."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from d2 import Severity
from d2tools.scanner import FindingCode, scan
from d2tools.scanner import _file as file_module

GOOD = "from d2 import d2_guard\n\n@d2_guard('ok')\ndef ok(): ...\n"


def _one(tmp_path: Path, name: str, data: bytes) -> tuple[str, ...]:
    (tmp_path / "good.py").write_text(GOOD)
    (tmp_path / name).write_bytes(data)
    result = scan([tmp_path])
    assert result.tool_ids == ("ok",)  # the good file is scanned whatever happens to the bad one
    return tuple(f.render() for f in result.findings)


def test_undecodable_bytes(tmp_path: Path) -> None:
    (finding,) = _one(tmp_path, "bad.py", b"from d2 import d2_guard\nx = '\xff\xfe'\n")
    assert finding.startswith("bad.py:1:1: D2S002 cannot decode file")


def test_null_bytes(tmp_path: Path) -> None:
    (finding,) = _one(tmp_path, "bad.py", b"import d2\nx = 1\x00\n")
    assert finding.startswith("bad.py:") and " D2S001 " in finding and "null bytes" in finding


def test_unclosed_bracket_points_at_the_bracket(tmp_path: Path) -> None:
    (finding,) = _one(tmp_path, "bad.py", b"import d2\n\nvalue = [1,\n")
    assert finding.startswith("bad.py:3:9: D2S001 syntax error: '[' was never closed")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "dangling.py").symlink_to(tmp_path / "gone.py")
    (finding,) = scan([tmp_path]).findings
    assert (finding.code, finding.file, finding.severity) == (
        FindingCode.UNREADABLE_FILE,
        "dangling.py",
        Severity.ERROR,
    )
    assert finding.message.startswith("cannot read file")


def test_file_over_the_size_limit_is_skipped_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_module, "MAX_FILE_BYTES", 10)
    (tmp_path / "big.py").write_text(GOOD)
    (finding,) = scan([tmp_path]).findings
    assert (finding.code, finding.severity) == (FindingCode.FILE_TOO_LARGE, Severity.WARNING)


def test_an_internal_error_becomes_a_finding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(file_module, "Builder", explode)
    (tmp_path / "a.py").write_text(GOOD)
    (finding,) = scan([tmp_path], workers=1).findings
    assert (finding.code, finding.line, finding.col) == (FindingCode.INTERNAL_ERROR, 1, 1)
    assert "RuntimeError: boom" in finding.message


def test_source_warnings_do_not_escape(tmp_path: Path) -> None:
    (tmp_path / "regex.py").write_text(
        'from d2 import d2_guard\nPATTERN = "\\d+"\n\n@d2_guard()\ndef f(): ...\n'
    )
    result = scan([tmp_path])  # pytest turns warnings into errors: an invalid escape must not leak
    assert result.tool_ids == ("regex.f",) and result.findings == ()


def test_files_without_d2_are_not_analysed(tmp_path: Path) -> None:
    (tmp_path / "plain.py").write_text("def d2_guard(f):\n    return f\n\n@d2_guard\ndef f(): ...\n")
    (tmp_path / "broken_but_unrelated.py").write_text("def broken(:\n")
    result = scan([tmp_path])
    assert result.tools == () and result.findings == () and result.files_scanned == 2


def test_finding_converts_to_the_shared_diagnostic(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("from d2 import d2_guard\n@d2_guard(f'{1}')\ndef f(): ...\n")
    (finding,) = scan([tmp_path]).findings
    diagnostic = finding.to_diagnostic()
    assert (diagnostic.code, diagnostic.file, diagnostic.line, diagnostic.col) == ("D2S003", "bad.py", 2, 11)
    assert diagnostic.severity is Severity.WARNING and str(diagnostic) == str(finding)
