"""docs/mcp.md stays true: its config loads, its tables match the code, its Python example runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from d2tools.integrations import refusal_for
from d2tools.integrations._refusal import _SENTENCES, _UNDECIDED
from d2tools.mcp import load_config

from .conftest import ROOT

DOC = ROOT / "docs" / "mcp.md"


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_config_example_loads(tmp_path: Path) -> None:
    (config,) = [b for b in blocks("yaml") if b.startswith("# proxy.yaml")]
    (tmp_path / "proxy.yaml").write_text(config)
    values = load_config(tmp_path / "proxy.yaml")
    assert [u.name for u in values["upstreams"]] == ["crm", "time", "tickets"]
    assert values["auth"].roles_claim == "realm_access.roles"
    assert values["session_state"] == {"url": "redis://127.0.0.1:6379/0", "max_local_sessions": 50000}


def test_refusal_example_is_what_the_proxy_sends() -> None:
    example = json.loads(next(b for b in blocks("json") if "io.d2/refusal" in b))
    meta = example["_meta"]["io.d2/refusal"]
    import d2

    exc = d2.PermissionDeniedError(reason=meta["reason"], tool_id="t", location="/x/policy.yaml:36:9")
    assert example["content"][0]["text"] == refusal_for(exc).text


def test_reason_table_matches_the_sentences() -> None:
    rows = re.findall(r"^\| (`[a-z_]+`(?:, `[a-z_]+`)*) \| (.+?) \|$", DOC.read_text(), flags=re.M)
    table = {code.strip("`"): sentence for codes, sentence in rows for code in codes.split(", ")}
    for code, sentence in _SENTENCES.items():
        assert table[code] == sentence, code
    for code in ("no_context", "no_policy", "policy_expired", "internal_error"):
        assert table[code] == _UNDECIDED


def test_desktop_config_example_is_json() -> None:
    (snippet,) = [b for b in blocks("json") if "mcpServers" in b]
    args = json.loads(snippet)["mcpServers"]["time"]["args"]
    assert args[0] == "mcp-proxy" and "--" in args


def test_flags_in_the_doc_exist() -> None:
    from typer.testing import CliRunner

    from d2tools.cli.app import build_app

    out = CliRunner().invoke(build_app(), ["mcp-proxy", "--help"], terminal_width=200).output
    for flag in set(re.findall(r"(?<=\s)--[a-z][a-z-]+", "\n".join(blocks("bash")))):
        if flag not in ("--mcp", "--mcp-url", "--name", "--output", "--force"):
            assert flag in out, flag


def test_python_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    (code,) = blocks("python")
    monkeypatch.chdir(ROOT)
    exec(compile(code, str(DOC), "exec"), {"__name__": "doc"})


def test_prompt_and_resource_policy_example_loads(tmp_path: Path) -> None:
    import d2

    (example,) = [b for b in blocks("yaml") if b.startswith("# prompts and resources")]
    (tmp_path / "policy.yaml").write_text(example)
    policy = d2.load_policy_file(tmp_path / "policy.yaml")
    roles = frozenset({"support"})
    assert policy.access("crm.prompts.draft_reply", roles).grants
    assert policy.access("crm.resources.read", roles).has_output


def test_prompt_and_resource_refusal_example_is_what_the_proxy_sends() -> None:
    from d2tools.mcp import REFUSAL_META_KEY
    from d2tools.mcp._proxy import refusal_error

    example = json.loads(next(b for b in blocks("json") if '"error"' in b and "io.d2/refusal" in b))
    meta = example["error"]["data"][REFUSAL_META_KEY]
    import d2

    exc = d2.PermissionDeniedError(reason=meta["reason"], tool_id="t", location="/x/policy.yaml:24:9")
    sent = refusal_error(refusal_for(exc))
    assert {"code": sent.code, "message": sent.message, "data": sent.data} == example["error"]
