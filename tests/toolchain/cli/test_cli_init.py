"""``d2 init``: starter policies from a scan, overwrite protection, formats, and ``--check`` drift."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from d2._lang.compiler import compile_policy
from d2._lang.source import parse_policy_file, parse_policy_text

FOUND = {
    "billing.refund": "app/billing.py:14",  # plain d2_guard with a literal
    "billing.read": "app/billing.py:19",  # import d2 as authz; @authz.d2_guard
    "weather.lookup": "app/billing.py:24",  # from d2 import d2_guard as guard; a module constant
    "reports.run": "app/billing.py:29",  # a constant imported from another module
    "app.billing.Admin.Users.delete": "app/billing.py:36",  # auto id through nested classes
}


def test_writes_a_commented_starter_that_loads(cli, billing: Path) -> None:
    Path("policy.yaml").unlink()
    result = cli("init", "--path", "app")
    assert result.code == 0, result.err
    text = Path("policy.yaml").read_text(encoding="utf-8")
    assert text.splitlines()[0] == "# yaml-language-server: $schema=.d2/policy.schema.json"
    assert Path(".d2/policy.schema.json").is_file()  # the schema line resolves (test_cli_schema.py)
    for tool_id, where in FOUND.items():
        assert re.search(rf'^      - "{re.escape(tool_id)}" *# {re.escape(where)}$', text, re.M), tool_id
    # the computed id is listed as a comment, never guessed
    assert re.search(r"^      # not listed: app/billing\.py:42 \(D2S003\)", text, re.M)
    policy = compile_policy(parse_policy_file("policy.yaml")).policy
    assert policy is not None
    assert policy.wildcard.keys() == {"admin"}
    assert policy.tools_for("developer") == frozenset(FOUND)
    assert policy.name == "app"  # the scanned directory
    assert "Wrote policy.yaml: 5 tool(s)" in result.err and "D2S003" in result.err


def test_refuses_to_overwrite_without_force(cli, billing: Path) -> None:
    before = Path("policy.yaml").read_text(encoding="utf-8")
    result = cli("init", "--path", "app")
    assert result.code == 1 and "--force" in result.err
    assert Path("policy.yaml").read_text(encoding="utf-8") == before
    assert cli("init", "--path", "app", "--force").code == 0
    assert Path("policy.yaml").read_text(encoding="utf-8") != before


def test_stdout_json_round_trips(cli, billing: Path) -> None:
    result = cli("init", "--path", "app", "--stdout", "--format", "json")
    assert result.code == 0
    doc = json.loads(result.out)
    assert doc["$schema"] == ".d2/policy.schema.json"
    developer = doc["policies"][1]
    assert developer["permissions"] == sorted(FOUND)
    assert developer["x-sources"] == FOUND
    assert compile_policy(parse_policy_text(result.out, "starter.json")).policy is not None


def test_output_suffix_picks_the_format(cli, billing: Path) -> None:
    assert cli("init", "--path", "app", "--output", "out/policy.json").code == 0
    assert json.loads(Path("out/policy.json").read_text(encoding="utf-8"))["policies"][0]["role"] == "admin"
    assert cli("init", "--path", "app", "--stdout", "--format", "sarif").code == 2


def test_default_output_is_discovered_by_the_runtime(cli, billing: Path) -> None:
    from d2._sources.discovery import discover_policy

    Path("policy.yaml").unlink()
    assert cli("init").code == 0
    assert discover_policy().path.resolve() == (billing / "policy.yaml").resolve()


def test_ids_that_need_quoting_survive(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ids = ["true", "123", "a: b", "#x", "- y", 'it\'s "q"', "ünï"]
    body = "\n".join(f"@d2_guard({tool_id!r})\ndef f{i}() -> None: ...\n" for i, tool_id in enumerate(ids))
    Path("mod.py").write_text(f"from d2 import d2_guard\n\n{body}", encoding="utf-8")
    result = cli("init", "--stdout")
    assert result.code == 0
    policy = compile_policy(parse_policy_text(result.out, "p.yaml")).policy
    assert policy is not None and policy.tools_for("developer") == frozenset(ids)


def test_no_tools_still_writes_a_loadable_policy(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("plain.py").write_text("x = 1\n", encoding="utf-8")
    result = cli("init", "--stdout")
    assert result.code == 0 and "permissions: []" in result.out
    assert compile_policy(parse_policy_text(result.out, "p.yaml")).policy is not None


def test_skips_virtualenvs_build_output_and_gitignored_files(cli, billing: Path) -> None:
    guarded = 'from d2 import d2_guard\n\n@d2_guard("{}")\ndef f() -> None: ...\n'
    for directory, tool_id in (
        (".venv/lib", "venv.tool"),
        ("build", "build.tool"),
        ("ignored", "ignored.tool"),
    ):
        Path(directory).mkdir(parents=True)
        Path(directory, "m.py").write_text(guarded.format(tool_id), encoding="utf-8")
    Path(".gitignore").write_text("ignored/\n", encoding="utf-8")
    import subprocess

    subprocess.run(["git", "init", "-q"], check=True)
    result = cli("init", "--stdout")
    assert result.code == 0
    assert "billing.refund" in result.out
    for tool_id in ("venv.tool", "build.tool", "ignored.tool"):
        assert tool_id not in result.out


def test_scan_errors_fail_after_writing(cli, billing: Path) -> None:
    Path("app/broken.py").write_text("from d2 import d2_guard\n\ndef oops(:\n", encoding="utf-8")
    result = cli("init", "--path", "app", "--stdout")
    assert result.code == 1
    assert "app/broken.py:3:10: D2S001" in result.err
    assert '"billing.refund"' in result.out


# -- --check ------------------------------------------------------------------------------------------


def test_check_passes_when_code_and_policy_agree(cli, billing: Path) -> None:
    Path("policy.yaml").unlink()
    assert cli("init", "--path", "app").code == 0
    result = cli("init", "--check", "--path", "app")
    assert result.code == 0, result.out
    assert "policy.yaml matches the code: 5 guarded tool(s)" in result.out


def test_check_reports_drift_both_ways(cli, billing: Path) -> None:
    result = cli("init", "--check", "--path", "app")
    assert result.code == 1
    lines = result.out.splitlines()
    assert any(line.startswith("app/billing.py:29:1: D2E710 'reports.run' is guarded here") for line in lines)
    assert any(
        line.startswith("policy.yaml:19:9: D2E711 'legacy.export' is named in the policy") for line in lines
    )
    assert "1 tool(s) guarded in code but not named in the policy, 1 named in the policy" in result.out


def test_check_counts_group_members_but_not_star(cli, billing: Path) -> None:
    Path("policy.yaml").write_text(
        """\
metadata:
  tool_groups:
    money: [billing.refund, billing.read]
policies:
  - role: admin
    permissions: ["*"]
  - role: support
    permissions: ["@money", weather.lookup, reports.run]
""",
        encoding="utf-8",
    )
    result = cli("init", "--check", "--path", "app", "--format", "json")
    doc = json.loads(result.out)
    drift = [
        (d["code"], d["message"].split("'")[1]) for d in doc["diagnostics"] if d["code"].startswith("D2E71")
    ]
    assert drift == [("D2E710", "app.billing.Admin.Users.delete")]
    assert result.code == 1


def test_check_finds_the_policy_like_the_pre_commit_hook_does(
    cli, billing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.move("policy.yaml", "elsewhere.yaml")
    assert cli("init", "--check").code == 2  # no ./policy.* and no --policy
    assert cli("init", "--check", "--policy", "elsewhere.yaml").code == 1
    monkeypatch.setenv("D2_POLICY_FILE", "elsewhere.yaml")
    assert cli("init", "--check").code == 1
    assert cli("init", "--check", "--stdout").code == 2


def test_check_sarif_and_github_formats(cli, billing: Path) -> None:
    sarif = json.loads(cli("init", "--check", "--path", "app", "-f", "sarif").out)
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} == {"D2E710", "D2E711", "D2S003"}
    github = cli("init", "--check", "--path", "app", "-f", "github").out
    assert "::error file=app/billing.py,line=29,col=1,title=D2E710::" in github


def test_init_writes_a_passing_starter_scenario(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import shutil
    import subprocess
    import sys

    app = Path(__file__).parents[3] / "examples" / "quickstart" / "app.py"
    shutil.copy(app, tmp_path / "app.py")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "d2", *args], cwd=tmp_path, capture_output=True, text=True
        )

    assert run("init").returncode == 0
    scenario = tmp_path / "scenarios" / "policy.d2test.yaml"
    assert "../policy.yaml" in scenario.read_text()
    result = run("test", "scenarios")
    # 4 tools: default deny, admin's grants and developer's grants, each case per tool
    assert result.returncode == 0 and result.stdout.splitlines()[-1] == "12 passed, 0 failed"
    scenario.write_text("# mine\n")
    forced = run("init", "--force")
    # --force replaces the policy only: scenarios are the user's, and the run says it kept them
    assert forced.returncode == 0 and scenario.read_text() == "# mine\n"
    assert f"Kept the existing {Path('scenarios') / 'policy.d2test.yaml'}" in forced.stderr
