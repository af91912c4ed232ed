"""The cloud CLI (``d2 publish/pull/revoke/switch/status/draft`` and ``d2 serve`` admin) on a real server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from d2tools.cli import main

V1 = "policies:\n  - role: r\n    permissions: [tool.a]\n"
V2 = "policies:\n  - role: r\n    permissions: [tool.a, tool.b]\n"


@pytest.fixture
def dev(app, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("D2_API_URL", app.server.url)
    monkeypatch.setenv("D2_TOKEN", app.developer)
    return app


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_publish_pull_revoke_and_status(dev, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    policy = tmp_path / "policy.yaml"
    policy.write_text(V1)
    code, out = run(capsys, "publish", str(policy), "--dry-run")
    assert code == 0 and "would publish" in out and dev.head_etag() is None
    assert run(capsys, "publish", str(policy))[0] == 0
    policy.write_text(V2)
    code, out = run(capsys, "publish", str(policy))
    assert code == 0 and "v2" in out
    dev.publish_next(V1)  # someone else publishes v3 meanwhile
    code, out = run(capsys, "publish", str(policy))
    # The raw status code is not shown (ETags such as "v3.81412348..." are removed before looking).
    assert code == 1 and "412" not in re.sub(r'"v\d+\.[0-9a-f]+"', "", out) and "changed since v2" in out
    pulled = tmp_path / "pulled.yaml"
    assert run(capsys, "pull", "-o", str(pulled))[0] == 0 and pulled.read_text() == V1
    assert run(capsys, "publish", str(policy))[0] == 0  # after a pull, the publish goes through
    as_json = tmp_path / "pulled.json"
    assert run(capsys, "pull", "-o", str(as_json), "--format", "json")[0] == 0
    assert json.loads(as_json.read_text())["policies"][0]["permissions"] == ["tool.a", "tool.b"]
    code, out = run(capsys, "status", "--json")
    assert code == 0 and json.loads(out)["head"]["version"] == 4
    code, out = run(capsys, "revoke", "--yes")
    assert code == 0 and "revoked" in out
    code, out = run(capsys, "pull", "-o", str(pulled), "--force")
    assert code == 1 and "revoked" in out


def test_draft_and_pull_of_the_draft(dev, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    policy = tmp_path / "policy.yaml"
    policy.write_text(V2)
    assert run(capsys, "draft", str(policy))[0] == 0
    out_file = tmp_path / "draft.yaml"
    assert run(capsys, "pull", "--stage", "draft", "-o", str(out_file))[0] == 0
    assert out_file.read_text() == V2


def test_switch_checks_the_app_exists(dev, capsys) -> None:  # type: ignore[no-untyped-def]
    assert run(capsys, "switch", dev.name)[0] == 0
    code, out = run(capsys, "switch", "no-such-app")
    assert code == 1 and "no app" in out


def test_wrong_token_type_says_which_token_is_needed(dev, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("D2_TOKEN", dev.runtime)
    policy = tmp_path / "policy.yaml"
    policy.write_text(V1)
    code, out = run(capsys, "draft", str(policy))
    assert code == 1 and "403" in out and "developer token" in out
    monkeypatch.delenv("D2_API_URL")
    assert run(capsys, "status")[0] == 2


def test_an_invalid_policy_is_not_published(dev, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    policy = tmp_path / "policy.yaml"
    policy.write_text("policies:\n  - role: r\n    permisions: [tool.a]\n")
    code, out = run(capsys, "publish", str(policy))
    assert code == 1 and "D2E002" in out and f"{policy}:3" in out


def test_serve_admin_commands(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = str(tmp_path / "cp.db")
    code, kid = run(capsys, "serve", "init", "--db", db)
    assert code == 0 and len(kid.strip()) == 43
    assert run(capsys, "serve", "create-app", "shop", "--db", db) == (0, "shop\n")
    code, token = run(capsys, "serve", "issue-token", "--db", db, "--kind", "runtime", "--app", "shop")
    assert code == 0 and token.startswith("d2_rt_")
    assert run(capsys, "serve", "issue-token", "--db", db, "--kind", "runtime")[0] == 2
    code, new_kid = run(capsys, "serve", "rotate-key", "--db", db)
    assert code == 0 and new_kid != kid
    assert "d2_rt_" not in Path(db).read_bytes().decode("latin-1"), "tokens are stored hashed"


def test_python_m_server_admin_is_the_same(backend, capsys) -> None:  # type: ignore[no-untyped-def]
    from d2tools.server.__main__ import main as server_main

    assert server_main(["create-app", "twin", *backend.admin_args()]) == 0
    assert server_main(["create-app", "twin", *backend.admin_args()]) == 2
    assert capsys.readouterr().out.strip() == "twin"


def test_status_without_token_is_refused(dev) -> None:  # type: ignore[no-untyped-def]
    assert httpx.get(f"{dev.server.url}/v1/status").status_code == 401
