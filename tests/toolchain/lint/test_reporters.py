"""Every output format parses back to the diagnostics it was given."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from d2._base.diagnostics import Diagnostic, Severity
from d2tools.lint import CODES, lint_paths
from d2tools.report import FORMATS, Report, get_reporter, render

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "lint" / "codes"

SAMPLE = (
    Diagnostic(
        "D2E101",
        "unknown operator 'minimum'",
        Severity.ERROR,
        "policy.yaml",
        12,
        9,
        ("policies", 0),
        "did you mean 'min'?",
    ),
    Diagnostic("D2W002", "tool group 'x' is never used", Severity.WARNING, "dir with space/p,1.yaml", 3, 5),
    Diagnostic(
        "D2X999", "a code no catalogue knows: 100% odd\nsecond line", Severity.WARNING, "a:b.yaml", 1, 1
    ),
)
REPORT = Report(SAMPLE, ("policy.yaml", "dir with space/p,1.yaml", "a:b.yaml"), "d2", "0.1.0")

_TEXT = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>D2[A-Z]\d{3}) (?P<rest>.*)$")
_GITHUB = re.compile(r"^::(?P<kind>error|warning) (?P<props>[^:]*)::(?P<data>.*)$")


def _unescape(text: str) -> str:
    return (
        text.replace("%0A", "\n")
        .replace("%0D", "\r")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
    )


def _github(line: str) -> dict[str, str]:
    match = _GITHUB.match(line)
    assert match, line
    props = dict(p.split("=", 1) for p in match["props"].split(","))
    return {
        "kind": match["kind"],
        **{k: _unescape(v) for k, v in props.items()},
        "data": _unescape(match["data"]),
    }


def test_every_format_has_a_reporter_module() -> None:
    assert set(FORMATS) == {"text", "json", "github", "sarif"}
    for name in FORMATS:
        assert callable(get_reporter(name))


def test_text_is_one_ruff_style_line_per_diagnostic_and_a_summary() -> None:
    lines = render("text", Report(SAMPLE[:2], ("policy.yaml",))).splitlines()
    first = _TEXT.match(lines[0])
    assert first and first.groupdict() == {
        "file": "policy.yaml",
        "line": "12",
        "col": "9",
        "code": "D2E101",
        "rest": "unknown operator 'minimum' (did you mean 'min'?)",
    }
    assert lines[-1] == "Found 1 error, 1 warning in 1 file."
    assert render("text", Report((), ("a.yaml", "b.yaml"))) == "All checks passed in 2 files."


def test_json_round_trips_every_field() -> None:
    doc = json.loads(render("json", REPORT))
    assert doc["version"] == 1 and doc["summary"] == {"errors": 1, "warnings": 2, "files": 3}
    back = [
        Diagnostic(
            d["code"],
            d["message"],
            Severity(d["severity"]),
            d["file"],
            d["line"],
            d["col"],
            tuple(d["path"]),
            d["hint"],
        )
        for d in doc["diagnostics"]
    ]
    assert tuple(back) == SAMPLE


def test_github_commands_round_trip_through_escaping() -> None:
    parsed = [_github(line) for line in render("github", REPORT).splitlines()]
    assert [(p["kind"], p["file"], p["line"], p["col"], p["title"]) for p in parsed] == [
        ("error", "policy.yaml", "12", "9", "D2E101"),
        ("warning", "dir with space/p,1.yaml", "3", "5", "D2W002"),
        ("warning", "a:b.yaml", "1", "1", "D2X999"),
    ]
    assert parsed[2]["data"] == "D2X999 a code no catalogue knows: 100% odd\nsecond line"
    assert "\n" not in render("github", Report(SAMPLE[2:])).strip()


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_github_escaping_is_lossless(message: str, file: str) -> None:
    diag = Diagnostic("D2E003", message, Severity.ERROR, file, 2, 3)
    (line,) = render("github", Report((diag,))).split("\n")
    parsed = _github(line)
    assert parsed["file"] == file and parsed["data"] == f"D2E003 {message}"


# -- SARIF 2.1.0: the structural rules of the OASIS specification that consumers rely on --------------

_LEVELS = {"none", "note", "warning", "error"}


def _check_sarif(log: dict[str, Any]) -> None:
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    assert isinstance(log["runs"], list) and log["runs"]
    for run in log["runs"]:
        driver = run["tool"]["driver"]
        assert isinstance(driver["name"], str) and driver["name"]
        rules = driver.get("rules", [])
        ids = [r["id"] for r in rules]
        assert len(ids) == len(set(ids)), "rule ids must be unique"
        for rule in rules:
            assert set(rule) <= {"id", "shortDescription", "help", "helpUri", "defaultConfiguration"}
            for key in ("shortDescription", "help"):
                if key in rule:
                    assert isinstance(rule[key]["text"], str)
            if "defaultConfiguration" in rule:
                assert rule["defaultConfiguration"]["level"] in _LEVELS
        for artifact in run.get("artifacts", []):
            assert isinstance(artifact["location"]["uri"], str)
        for result in run["results"]:
            assert isinstance(result["message"]["text"], str) and result["message"]["text"]
            assert result["level"] in _LEVELS
            if "ruleIndex" in result:
                assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
            for location in result["locations"]:
                physical = location["physicalLocation"]
                uri = physical["artifactLocation"]["uri"]
                assert " " not in uri and "\\" not in uri
                region = physical["region"]
                assert isinstance(region["startLine"], int) and region["startLine"] >= 1
                assert isinstance(region["startColumn"], int) and region["startColumn"] >= 1


def test_sarif_is_structurally_valid_and_maps_back() -> None:
    log = json.loads(render("sarif", REPORT))
    _check_sarif(log)
    run = log["runs"][0]
    assert run["tool"]["driver"]["version"] == "0.1.0"
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["D2E101", "D2W002", "D2X999"]
    assert [r["level"] for r in results] == ["error", "warning", "warning"]
    region = results[0]["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (12, 9)
    assert (
        results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        == "dir%20with%20space/p%2C1.yaml"
    )
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["D2E101"]["shortDescription"]["text"] == CODES["D2E101"].title
    assert "shortDescription" not in rules["D2X999"]


def test_sarif_of_every_fixture_is_valid() -> None:
    run = lint_paths(sorted(FIXTURES.glob("*.yaml")))
    report = Report(run.diagnostics, tuple(f.file for f in run.files))
    log = json.loads(render("sarif", report))
    _check_sarif(log)
    assert len(log["runs"][0]["results"]) == len(run.diagnostics) > 20


def test_empty_report_renders_in_every_format() -> None:
    empty = Report(())
    assert json.loads(render("json", empty))["diagnostics"] == []
    assert json.loads(render("sarif", empty))["runs"][0]["results"] == []
    assert render("github", empty) == ""
