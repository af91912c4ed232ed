"""Every diagnostic code fires at the right line and column, and every code is documented."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from d2tools.lint import CODES, lint_file
from d2tools.lint.codes import render_markdown

ROOT = Path(__file__).resolve().parents[3]
CODE_FIXTURES = sorted((ROOT / "tests" / "fixtures" / "lint" / "codes").glob("*.yaml"))
# Codes whose triggers need more than a policy file; each has a dedicated test named here.
TESTED_ELSEWHERE = {
    "D2E700": "test_lint_checks.py::test_unreadable_file_is_a_diagnostic",
    "D2W701": "test_lint_checks.py::test_expiry_within_a_week_warns",
    "D2W703": "test_lint_checks.py::test_sequence_rule_that_can_never_fire",
    "D2E702": "test_lint_checks.py::test_code_checks_at_exact_positions",
    "D2W704": "retired: reported as D2E711 (see D2E711)",
    "D2E710": "cli/test_cli_init.py::test_check_reports_drift_both_ways",
    "D2E711": "cli/test_cli_init.py::test_check_reports_drift_both_ways",
    "D2E202": "schema-shadowed in policy files (D2E005 fires first); see d2's own sequence tests",
    "D2E203": "schema-shadowed in policy files (D2E005 fires first); see d2's own sequence tests",
    "D2E801": "restrictions (d2.restrict), compiled by the runtime; not a policy-file diagnostic",
    "D2E900": "sections a build cannot enforce; disappears as sections land",
}
_CODE = re.compile(r"""["'](D2[EWSM]\d{3})["']""")


@pytest.mark.parametrize("fixture", CODE_FIXTURES, ids=lambda p: p.stem)
def test_fixture_reports_exactly_its_marked_diagnostics(
    fixture: Path, marks: Callable[[Path], set[tuple[str, int, int]]]
) -> None:
    expected = marks(fixture)
    found = {(d.code, d.line, d.col) for d in lint_file(fixture).diagnostics}
    assert found == expected
    assert fixture.stem in {code for code, _, _ in expected}


def test_every_policy_and_lint_code_has_a_fixture_or_a_named_test() -> None:
    covered = {p.stem for p in CODE_FIXTURES} | set(TESTED_ELSEWHERE)
    missing = {c for c, info in CODES.items() if info.origin in ("policy", "lint", "init")} - covered
    assert not missing, f"add tests/fixtures/lint/codes/<CODE>.yaml for {sorted(missing)}"


def test_every_code_the_code_base_emits_is_catalogued() -> None:
    emitted: set[str] = set()
    for package in ("d2", "d2tools"):
        for source in (ROOT / package).rglob("*.py"):
            emitted |= set(_CODE.findall(source.read_text(encoding="utf-8")))
    from d2tools.scanner import FindingCode

    emitted |= {c.value for c in FindingCode}
    missing = emitted - set(CODES)
    assert not missing, (
        f"document {sorted(missing)} in d2tools/lint/codes.py, then regenerate docs/lint-codes.md"
    )


def test_docs_page_is_generated_from_the_catalogue() -> None:
    page = (ROOT / "docs" / "lint-codes.md").read_text(encoding="utf-8")
    assert page == render_markdown(), "run: python -m d2tools.lint > docs/lint-codes.md"


def test_catalogue_codes_are_well_formed() -> None:
    for code, info in CODES.items():
        assert code == info.code
        assert re.fullmatch(r"D2[EWSM]\d{3}", code)
        if code[2] in "EW" or code.startswith("D2M"):
            assert info.severity.value == ("error" if code[2] == "E" else "warning"), code
        assert info.title.endswith(".") and info.fix
