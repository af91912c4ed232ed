"""``d2 lint`` from the command line: exit codes, formats, --code, --strict, --ignore, discovery."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "lint"
GOOD = "policies:\n  - role: viewer\n    permissions: [billing.read]\n"
WARN = "metadata:\n  tool_groups:\n    unused: [a.b]\npolicies:\n  - role: viewer\n    permissions: [billing.read]\n"


def test_clean_policy_exits_0(cli, write_policy) -> None:
    result = cli("lint", write_policy(GOOD))
    assert result.code == 0 and "All checks passed in 1 file." in result.out


def test_error_exits_1_with_a_ruff_style_line(cli) -> None:
    path = FIXTURES / "codes" / "D2E101.yaml"
    result = cli("lint", path)
    assert result.code == 1
    assert f"{path}:7:22: D2E101 unknown operator 'minimum' for 'amount' (did you mean 'min'?)" in result.out


def test_warnings_pass_unless_strict(cli, write_policy) -> None:
    path = write_policy(WARN)
    assert cli("lint", path).code == 0
    assert cli("lint", "--strict", path).code == 1
    assert cli("lint", "--strict", "--ignore", "d2w002", path).code == 0


def test_several_files_report_together(cli, write_policy) -> None:
    good = write_policy(GOOD, "good.yaml")
    bad = FIXTURES / "codes" / "D2E007.yaml"
    result = cli("lint", "--format", "json", good, bad)
    doc = json.loads(result.out)
    assert result.code == 1
    assert doc["files"] == [str(good), str(bad)]
    assert [(d["code"], d["file"], d["line"], d["col"]) for d in doc["diagnostics"]] == [
        ("D2E007", str(bad), 4, 1)
    ]


@pytest.mark.parametrize("fmt", ["json", "sarif", "github", "text"])
def test_every_format_carries_the_same_findings(cli, fmt: str) -> None:
    path = FIXTURES / "codes" / "D2W004.yaml"
    result = cli("lint", "--format", fmt, path)
    assert result.code == 0
    if fmt == "json":
        assert [d["code"] for d in json.loads(result.out)["diagnostics"]] == ["D2W004"]
    elif fmt == "sarif":
        (res,) = json.loads(result.out)["runs"][0]["results"]
        assert res["ruleId"] == "D2W004" and res["level"] == "warning"
    elif fmt == "github":
        assert re.fullmatch(
            rf"::warning file={re.escape(str(path))},line=6,col=9,title=D2W004::D2W004 .*\n", result.out
        )
    else:
        assert f"{path}:6:9: D2W004 " in result.out


def test_github_format_prints_nothing_when_clean(cli, write_policy) -> None:
    assert cli("lint", "-f", "github", write_policy(GOOD)).out == ""


def test_without_files_lints_the_discovered_policy(
    cli, write_policy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli("lint").code == 2  # nothing to lint
    write_policy(WARN)
    result = cli("lint")
    assert result.code == 0 and "policy.yaml:3:5: D2W002" in result.out
    monkeypatch.setenv("D2_POLICY_FILE", str(FIXTURES / "codes" / "D2E002.yaml"))
    assert "D2E002" in cli("lint").out


def test_code_option_checks_parameters_and_stale_tools(cli, billing: Path) -> None:
    result = cli("lint", "policy.yaml", "--code", "app", "--format", "json")
    assert result.code == 1
    found = {(d["code"], d["file"], d["line"]) for d in json.loads(result.out)["diagnostics"]}
    assert found == {
        ("D2E702", "policy.yaml", 12),
        ("D2E711", "policy.yaml", 19),
        ("D2S003", "app/billing.py", 42),
    }
    assert cli("lint", "policy.yaml", "--code", "nowhere").code == 2


def test_sequence_and_data_flow_policies_lint(cli, tmp_path: Path) -> None:
    result = cli("lint", FIXTURES / "codes" / "D2W703.yaml")
    assert result.code == 0 and result.out.count(": D2W703 ") == 2
