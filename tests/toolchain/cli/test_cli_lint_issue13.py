"""``d2 lint`` as a ruff user expects it (issue 13): every stage at once, one code for a stale tool with a
did-you-mean, denies that are not duplicates, safe ``--fix``, directories, settings, suppressions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

GROUP_THEN_DENY = """\
metadata:
  tool_groups:
    billing: [billing.read, billing.refund]
policies:
  - role: support
    permissions:
      - "@billing"
      - tool: billing.refund
        allow: false
  - role: auditor
    permissions:
      - tool: billing.read
        allow: false
      - billing.read
"""


def test_a_deny_after_a_grant_is_not_a_duplicate_grant(cli, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(GROUP_THEN_DENY)
    result = cli("lint", policy, "--strict")
    assert result.code == 0 and "D2W004" not in result.out, result.out
    # --fix has nothing to do, so the deny (the whole point) is still there
    assert cli("lint", policy, "--fix").code == 0
    assert policy.read_text() == GROUP_THEN_DENY


def test_three_typos_three_findings_in_one_run(cli, billing: Path) -> None:
    text = Path("policy.yaml").read_text().replace("amount: {max: 100}", "amount: {maximum: 100}")
    Path("policy.yaml").write_text(text.replace("legacy.export", "reports.rn"))
    result = cli("lint", "policy.yaml", "--code", "app", "--format", "json")
    codes = sorted(d["code"] for d in json.loads(result.out)["diagnostics"] if d["file"] == "policy.yaml")
    # the shape error no longer hides the two checks against the code
    assert codes == ["D2E101", "D2E702", "D2E711"], result.out
    stale = next(d for d in json.loads(result.out)["diagnostics"] if d["code"] == "D2E711")
    assert stale["hint"].startswith("did you mean 'reports.run'?")


def test_a_misspelt_tool_is_one_code_and_severity_in_lint_and_init_check(cli, billing: Path) -> None:
    Path("policy.yaml").write_text(Path("policy.yaml").read_text().replace("legacy.export", "reports.rn"))
    lint = json.loads(cli("lint", "policy.yaml", "--code", "app", "-f", "json").out)["diagnostics"]
    check = json.loads(cli("init", "--check", "--path", "app", "-f", "json").out)["diagnostics"]
    found = [
        {
            (d["code"], d["severity"], d["line"], d["hint"].split(";")[0])
            for d in run
            if "reports.rn" in d["message"]
        }
        for run in (lint, check)
    ]
    assert found[0] == found[1] == {("D2E711", "error", 19, "did you mean 'reports.run'?")}
    # the other direction names the policy's near miss too
    missing = next(d for d in check if d["code"] == "D2E710" and "reports.run" in d["message"])
    assert "reports.rn" in missing["hint"]


FIXABLE = """\
# who may do what
metadata:
  tool_groups:
    billing: [billing.read, billing.refund, billing.read]  # the last one is a repeat
policies:
  - role: admin
    permissions:
      - "*"
      - billing.read  # pointless beside '*'
  - role: viewer
    permissions:
      - "@billing"
      - weather.lookup
      - weather.lookup  # said twice
      - tool: weather.lookup
        conditions:
          input:
            city: {in: [Paris]}
"""


def test_fix_applies_only_safe_fixes_and_keeps_comments(cli, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(FIXABLE)
    before = cli("lint", policy, "-f", "json")
    assert sorted(d["code"] for d in json.loads(before.out)["diagnostics"]) == [
        "D2W004",
        "D2W004",
        "D2W005",
        "D2W702",
    ]
    result = cli("lint", policy, "--fix", "-f", "json")
    after = policy.read_text()
    assert "Fixed 3 finding(s)" in result.err
    assert "# who may do what" in after and "# the last one is a repeat" in after
    assert "billing: [billing.read, billing.refund]" in after
    assert after.count("- weather.lookup") == 1
    # a repeat with conditions is not deleted: that would change who may call with which arguments
    assert "city: {in: [Paris]}" in after
    assert [d["code"] for d in json.loads(result.out)["diagnostics"]] == ["D2W004"]


def test_a_directory_is_searched_for_policy_files_only(cli, tmp_path: Path) -> None:
    (tmp_path / "svc" / "a").mkdir(parents=True)
    (tmp_path / "svc" / "a" / "policy.yaml").write_text("policies:\n  - role: r\n    permisions: []\n")
    (tmp_path / "svc" / "b.policy.json").write_text('{"policies": [{"role": "r", "permissions": ["t"]}]}')
    (tmp_path / "svc" / "tagged.yaml").write_text(
        "# yaml-language-server: $schema=../.d2/policy.schema.json\npolicies: []\n"
    )
    (tmp_path / "svc" / "guardrail_policy.json").write_text('{"rules": []}')  # another tool's file
    (tmp_path / "svc" / "ci.yaml").write_text("on: push\n")
    (tmp_path / "svc" / "x.d2test.yaml").write_text("cases: []\n")
    result = cli("lint", tmp_path / "svc", "-f", "json")
    files = {Path(f).name for f in json.loads(result.out)["files"]}
    assert files == {"policy.yaml", "b.policy.json", "tagged.yaml"}
    assert result.code == 1  # the typo in svc/a/policy.yaml
    hook = cli(
        "lint", "--only-policies", tmp_path / "svc" / "guardrail_policy.json", tmp_path / "svc" / "ci.yaml"
    )
    assert hook.code == 0 and "no d2 policy files" in hook.err


def test_settings_choose_files_codes_and_strictness(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "main.yaml").write_text(
        "metadata:\n  tool_groups:\n    g: [a]\npolicies:\n  - role: r\n    permissions: [a, a]\n"
    )
    Path("pyproject.toml").write_text('[tool.d2]\npolicies = ["rules/*.yaml"]\nstrict = true\n')
    result = cli("lint")
    assert result.code == 1 and {"D2W002", "D2W004"} <= set(result.out.split())  # strict: warnings fail
    assert "D2W002" not in cli("lint", "--select", "D2W004").out
    Path("pyproject.toml").write_text(
        '[tool.d2]\npolicies = ["rules/*.yaml"]\nstrict = true\nignore = ["D2W00"]\n'
    )
    assert cli("lint").code == 0
    Path(".d2.toml").write_text('policies = ["rules/*.yaml"]\nignor = ["D2W"]\n')  # nearest file wins
    broken = cli("lint")
    assert broken.code == 2 and "unknown key 'ignor'" in broken.err and "did you mean 'ignore'" in broken.err


def test_suppressions_need_a_reason_and_never_hide_errors(cli, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "policies:\n  - role: admin\n    permissions:\n      - '*'\n"
        "      - billing.read  # d2: ignore[D2W702] the audit team wants it listed\n"
        "      - billing.refund  # d2: ignore[D2W702]\n"
    )
    result = cli("lint", policy, "--strict")
    assert "policy.yaml:5" not in result.out  # suppressed, with a reason
    assert ":6:9: D2W702" in result.out and ":6:25: D2W705" in result.out
    assert result.code == 1
