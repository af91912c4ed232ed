"""``d2 fmt`` (comments kept, --check), ``d2 eval`` (a decision from JSON), ``d2 schema`` (a schema line
editors can resolve)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
QUICKSTART = ROOT / "examples" / "quickstart" / "policy.yaml"

MESSY = """\
# billing policy: keep this comment
metadata:
    name: "billing"     # quoted on purpose
policies:
- role: viewer
  permissions:
  - billing.read   # the only grant
"""


def test_fmt_check_reports_then_fmt_rewrites_keeping_comments(cli, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(MESSY)
    check = cli("fmt", "--check", "--diff", policy)
    assert check.code == 1 and "would reformat" in check.err and "+  - role: viewer" in check.out
    assert policy.read_text() == MESSY  # --check writes nothing
    assert cli("fmt", policy).code == 0
    text = policy.read_text()
    assert "# billing policy: keep this comment" in text and "# the only grant" in text
    assert '  name: "billing"' in text and "  - role: viewer\n    permissions:\n      - billing.read" in text
    assert cli("fmt", "--check", policy).code == 0  # idempotent


def test_fmt_leaves_a_broken_file_alone_and_fails(cli, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("policies: [\n")
    result = cli("fmt", policy)
    assert result.code == 1 and "error:" in result.err and policy.read_text() == "policies: [\n"


def test_fmt_accepts_the_examples_as_they_are(cli) -> None:
    policies = sorted((ROOT / "examples").glob("*/policy.yaml"))
    assert policies and cli("fmt", "--check", *policies).code == 0


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def test_eval_reads_stdin_and_decides_with_the_engine(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    _stdin(monkeypatch, '{"roles": ["support"], "tool": "billing.refund", "args": {"amount": 50}}')
    allowed = cli("eval", "--policy", QUICKSTART, "--format", "json")
    assert allowed.code == 0 and json.loads(allowed.out)["allowed"] is True
    _stdin(monkeypatch, '{"roles": ["support"], "tool": "users.delete"}')
    denied = cli("eval", "-", "-p", QUICKSTART, "-f", "json")
    answer = json.loads(denied.out)
    assert denied.code == 1 and answer["reason"] == "explicit_deny"
    assert answer["location"].startswith(f"{QUICKSTART}:")


def test_eval_from_a_file_names_unknown_tools_and_roles(cli, tmp_path: Path) -> None:
    request = tmp_path / "call.json"
    request.write_text('{"roles": ["suport"], "tool": "billing.refnd"}')
    result = cli("eval", request, "-p", QUICKSTART)
    assert result.code == 1 and "deny: billing.refnd (unknown_tool)" in result.out
    assert "did you mean 'billing.refund'?" in result.out and "did you mean 'support'?" in result.out


@pytest.mark.parametrize(
    ("text", "message"),
    [("not json", "not JSON"), ('{"tool": 3}', "'tool' must be"), ('{"tol": "x"}', "did you mean 'tool'")],
)
def test_eval_bad_input_is_a_usage_error(
    cli, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    _stdin(monkeypatch, text)
    result = cli("eval", "-p", QUICKSTART)
    assert result.code == 2 and message in result.err


def test_init_schema_line_resolves_to_a_schema_that_validates_the_policy(cli, billing: Path) -> None:
    import jsonschema

    Path("policy.yaml").unlink()
    assert cli("init", "--path", "app").code == 0
    first = Path("policy.yaml").read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    target = (Path("policy.yaml").parent / first.split("$schema=", 1)[1]).resolve()
    schema = json.loads(target.read_text())
    from d2._toolkit import parse_policy_file

    jsonschema.Draft202012Validator(schema).validate(parse_policy_file("policy.yaml").data)
    scenario = Path("scenarios/policy.d2test.yaml").read_text().splitlines()[0]
    assert (Path("scenarios") / scenario.split("$schema=", 1)[1]).resolve().is_file()


def test_schema_prints_and_writes_with_editor_settings(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    printed = cli("schema", "policy")
    assert printed.code == 0 and json.loads(printed.out)["title"] == "d2 policy"
    Path(".vscode").mkdir()
    Path(".vscode/settings.json").write_text('{"editor.tabSize": 2}')
    assert cli("schema", "--write", ".d2", "--vscode").code == 0
    assert sorted(p.name for p in Path(".d2").iterdir()) == [
        "bundle.schema.json",
        "policy.schema.json",
        "restriction.schema.json",
        "scenario.schema.json",
    ]
    settings = json.loads(Path(".vscode/settings.json").read_text())
    assert settings["editor.tabSize"] == 2
    assert "*.d2test.yaml" in settings["yaml.schemas"][".d2/scenario.schema.json"]
    assert cli("schema", "nope").code == 2
