"""What the scanner finds in the ``shop`` fixture: every alias and form, and nothing it must not."""

from __future__ import annotations

from pathlib import Path

import pytest

from d2 import Severity
from d2tools.scanner import (
    FindingCode,
    GuardedTool,
    GuardForm,
    IdSource,
    Parameter,
    ParamKind,
    ScanResult,
    scan,
)


def by_qualname(result: ScanResult, file: str) -> dict[str, GuardedTool]:
    """Index the tools of one file by qualname (unique within each fixture file)."""
    return {t.qualname or "": t for t in result.tools if t.file == file}


@pytest.fixture
def result(shop: Path) -> ScanResult:
    return scan([shop])


API_EXPECTED = {
    # qualname: (tool id, how it was obtained)
    "search": ("catalog.search", IdSource.EXPLICIT),  # from d2 import d2_guard
    "list_items": ("shop.api.list_items", IdSource.AUTO),  # bare @guard (alias)
    "add_item": ("shop.api.add_item", IdSource.AUTO),  # @guard()
    "get_item": ("catalog.read", IdSource.CONSTANT),  # import d2; @d2.d2_guard(CONST)
    "delete_item": ("shop.api.delete_item", IdSource.AUTO),  # @d2.d2()
    "capture": ("payments.capture", IdSource.EXPLICIT),  # import d2 as authz; concatenated literal
    "orders": ("orders.read", IdSource.CONSTANT),  # from d2 import d2 as short; imported constant
    "export_orders": ("orders.read", IdSource.CONSTANT),  # module attribute, re-bound constant
    "Admin.ban": ("shop.api.Admin.ban", IdSource.AUTO),
    "Admin.Reports.export": ("shop.api.Admin.Reports.export", IdSource.AUTO),
    "Admin.Reports.schedule": ("payments.capture", IdSource.CONSTANT),  # annotated constant
    "make_handlers.<locals>.handler": ("shop.api.make_handlers.<locals>.handler", IdSource.AUTO),
    "make_handlers.<locals>.wrapper.<locals>.deepest": (
        "shop.api.make_handlers.<locals>.wrapper.<locals>.deepest",
        IdSource.AUTO,
    ),
    "_lookup": ("inventory.lookup", IdSource.EXPLICIT),  # lookup = d2_guard("...")(_lookup)
    "_restock": ("shop.api._restock", IdSource.AUTO),  # restock = guard(_restock)
    "audit": ("shop.api.audit", IdSource.AUTO),  # audit = authz.d2_guard()(audit)
    "stock": ("inventory.read", IdSource.EXPLICIT),  # read_guard = d2_guard("..."); @read_guard
    "<lambda>": ("tools.echo", IdSource.EXPLICIT),
}


def test_every_alias_and_form_in_api_is_found_with_its_id(result: ScanResult) -> None:
    found = {q: (t.tool_id, t.id_source) for q, t in by_qualname(result, "shop/api.py").items()}
    assert found == API_EXPECTED


def test_positions_are_one_based_and_point_at_the_guard(result: ScanResult) -> None:
    tools = by_qualname(result, "shop/api.py")
    assert (tools["search"].line, tools["search"].col, tools["search"].def_line) == (18, 1, 19)
    assert (tools["Admin.Reports.export"].line, tools["Admin.Reports.export"].col) == (64, 9)
    lookup = tools["_lookup"]
    assert (lookup.form, lookup.line, lookup.col, lookup.def_line) == (GuardForm.CALL, 93, 10, 89)
    assert tools["search"].location == "shop/api.py:18:1"


def test_parameters_keep_order_kinds_and_defaults(result: ScanResult) -> None:
    search = by_qualname(result, "shop/api.py")["search"]
    assert search.parameters == (
        Parameter("query", ParamKind.POSITIONAL_ONLY),
        Parameter("limit", ParamKind.POSITIONAL_OR_KEYWORD, has_default=True),
        Parameter("tags", ParamKind.VAR_POSITIONAL),
        Parameter("exact", ParamKind.KEYWORD_ONLY, has_default=True),
        Parameter("extra", ParamKind.VAR_KEYWORD),
    )
    assert search.parameter_names == ("query", "limit", "exact")
    assert search.has_var_positional and search.has_var_keyword
    ban = by_qualname(result, "shop/api.py")["Admin.ban"]
    assert ban.parameter_names == ("self", "user") and not ban.has_var_keyword


def test_async_is_recorded(result: ScanResult) -> None:
    tools = by_qualname(result, "shop/api.py")
    assert {q for q, t in tools.items() if t.is_async} == {"list_items", "capture", "Admin.Reports.export"}


def test_package_init_and_subpackages_get_package_module_names(result: ScanResult) -> None:
    assert by_qualname(result, "shop/__init__.py")["ping"].tool_id == "shop.ping"
    deep = by_qualname(result, "shop/sub/deep.py")
    assert deep["deep_auto"].tool_id == "shop.sub.deep.deep_auto"
    # REFUND_ID is re-exported by shop/sub/__init__.py from shop/ids.py, where it is a concatenation.
    assert (deep["partial_refund"].tool_id, deep["partial_refund"].id_source) == (
        "orders.refund",
        IdSource.CONSTANT,
    )


def test_lookalikes_and_shadowed_names_are_not_tools(result: ScanResult) -> None:
    assert by_qualname(result, "shop/lookalike.py") == {}
    assert by_qualname(result, "shop/impostors.py") == {}


DYNAMIC = {
    # qualname: (line, col of the id expression, code, words in the message)
    "by_fstring": (14, 11, FindingCode.DYNAMIC_TOOL_ID, "f-string"),
    "by_call": (19, 11, FindingCode.DYNAMIC_TOOL_ID, "call result"),
    "by_attribute": (24, 11, FindingCode.DYNAMIC_TOOL_ID, "'CONFIG.tool' is an attribute"),
    "by_reassigned": (29, 11, FindingCode.DYNAMIC_TOOL_ID, "'mutable' is assigned 2 times"),
    "by_foreign_constant": (34, 11, FindingCode.UNRESOLVED_IMPORTED_ID, "'os.sep'"),
    "configure.<locals>.inner": (40, 15, FindingCode.DYNAMIC_TOOL_ID, "'tool_id' is a parameter"),
}


def test_non_constant_ids_are_findings_never_guesses(result: ScanResult) -> None:
    tools = by_qualname(result, "shop/dynamic.py")
    assert set(tools) == set(DYNAMIC)
    assert all(t.tool_id is None and t.id_source is IdSource.UNRESOLVED for t in tools.values())
    findings = {(f.line, f.col): f for f in result.findings if f.file == "shop/dynamic.py"}
    assert len(findings) == len(DYNAMIC)
    for line, col, code, words in DYNAMIC.values():
        finding = findings[(line, col)]
        assert finding.code is code and words in finding.message
        assert finding.severity is Severity.WARNING and finding.hint


def test_syntax_error_is_a_finding_and_the_scan_goes_on(result: ScanResult) -> None:
    (finding,) = [f for f in result.findings if f.file == "shop/broken.py"]
    assert (finding.code, finding.severity, finding.line, finding.col) == (
        FindingCode.SYNTAX_ERROR,
        Severity.ERROR,
        5,
        12,
    )
    assert finding.render().startswith("shop/broken.py:5:12: D2S001 syntax error")
    assert by_qualname(result, "shop/api.py")  # later files were still scanned


def test_keyword_id_empty_id_descriptor_order_and_class_target(result: ScanResult) -> None:
    tools = by_qualname(result, "shop/keywords.py")
    assert tools["by_keyword"].tool_id == "kw.tool"
    assert tools["strict_auto"].tool_id == "shop.keywords.strict_auto"
    assert tools["empty_id"].tool_id is None
    guarded_class = tools["NotAFunction"]
    assert (guarded_class.tool_id, guarded_class.parameters) == ("shop.keywords.NotAFunction", None)
    codes = {(f.line, f.code, f.severity) for f in result.findings if f.file == "shop/keywords.py"}
    assert codes == {
        (16, FindingCode.INVALID_TOOL_ID, Severity.ERROR),
        (21, FindingCode.GUARD_ABOVE_DESCRIPTOR, Severity.ERROR),
        (27, FindingCode.GUARDED_CLASS, Severity.WARNING),
    }


def test_script_with_main_block_warns_that_auto_ids_depend_on_how_it_runs(result: ScanResult) -> None:
    tools = by_qualname(result, "tool.py")
    assert tools["run_report"].tool_id == "tool.run_report"
    (warning,) = [f for f in result.findings if f.file == "tool.py"]
    assert warning.code is FindingCode.MAIN_MODULE_AUTO_ID and "__main__.run_report" in warning.message
    assert (warning.line, warning.col) == (tools["run_report"].line, tools["run_report"].col)


def test_virtualenv_found_by_pyvenv_cfg_is_skipped(result: ScanResult) -> None:
    assert not [t for t in result.tools if t.file.startswith("localenv/")]
    assert "venv.should_not_appear" not in result.tool_ids


def test_result_helpers(result: ScanResult) -> None:
    assert result.tool_ids == tuple(sorted(result.tool_ids))
    assert "orders.read" in result.tool_ids and len(result.tools_by_id()["orders.read"]) == 2
    assert result.has_errors
    assert result.files_scanned == 12
    assert [(t.file, t.line) for t in result.tools] == sorted((t.file, t.line) for t in result.tools)


def test_scanning_a_subdirectory_keeps_package_module_names(shop: Path) -> None:
    result = scan([shop / "shop" / "sub"])
    assert {t.tool_id for t in result.tools} == {"orders.refund", "shop.sub.deep.deep_auto"}
    assert {t.file for t in result.tools} == {"deep.py"}


def test_imported_id_is_read_from_its_package_on_disk_when_outside_the_scan(shop: Path) -> None:
    result = scan([shop / "shop" / "api.py"], root=shop)
    orders = by_qualname(result, "shop/api.py")["orders"]
    assert (orders.tool_id, orders.id_source) == ("orders.read", IdSource.CONSTANT)


def test_imported_name_that_is_not_a_string_constant_is_a_finding(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "ids.py").write_text("import os\nREAD = os.environ['TOOL']\n")
    (pkg / "api.py").write_text(
        "from d2 import d2_guard\nfrom .ids import READ, MISSING\n\n"
        "@d2_guard(READ)\ndef a(): ...\n\n@d2_guard(MISSING)\ndef b(): ...\n"
    )
    result = scan([tmp_path])
    assert [t.tool_id for t in result.tools] == [None, None]
    messages = [(f.line, f.col, f.code, f.message) for f in result.findings]
    assert messages == [
        (
            4,
            11,
            FindingCode.UNRESOLVED_IMPORTED_ID,
            "the tool id 'READ' refers to 'pkg.ids.READ', which is "
            "not a string constant in any module the scanner can read",
        ),
        (
            7,
            11,
            FindingCode.UNRESOLVED_IMPORTED_ID,
            "the tool id 'MISSING' refers to 'pkg.ids.MISSING', which "
            "is not a string constant in any module the scanner can read",
        ),
    ]
