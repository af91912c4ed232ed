"""Control-plane verbs as issue 13 asks: history and diff, a confirmed revoke, a pull that does not
overwrite, ``--app-name``, ``d2 diagnose`` in cloud mode, and ``--db`` from the environment."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from d2tools.cli import main

from .conftest import ROOT

V1 = "policies:\n  - role: r\n    permissions: [tool.a]\n"
V2 = "policies:\n  - role: r\n    permissions: [tool.a, tool.b]\n"


@pytest.fixture
def dev(app, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("D2_API_URL", app.server.url)
    monkeypatch.setenv("D2_TOKEN", app.developer)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("D2_APP", raising=False)
    monkeypatch.chdir(tmp_path)
    return app


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_history_and_diff_show_what_a_restore_brings_back(dev, capsys) -> None:  # type: ignore[no-untyped-def]
    dev.publish(V1)
    dev.publish_next(V2)
    code, out, _ = run(capsys, "history", "--format", "json")
    versions = json.loads(out)["versions"]
    assert code == 0 and [v["version"] for v in versions] == [2, 1]
    assert {v["kind"] for v in versions} == {"publish"} and all(len(v["sha256"]) == 64 for v in versions)
    code, out, _ = run(capsys, "history")
    assert code == 0 and "v2" in out and "(head)" in out
    code, out, _ = run(capsys, "diff", "1", "2")
    assert code == 0 and "--- v1" in out and "+++ v2" in out
    assert "-    permissions: [tool.a]" in out and "+    permissions: [tool.a, tool.b]" in out
    Path("local.yaml").write_text(V2)
    code, out, err = run(capsys, "diff", "2", "local.yaml")
    assert code == 0 and out == "" and "identical" in err
    assert run(capsys, "diff", "9")[0] == 1  # no such version: the server says so


def test_revoke_asks_first_and_pull_never_overwrites(dev, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    dev.publish(V1)
    Path("policy.yaml").write_text("# my local edits\n")
    code, _, err = run(capsys, "pull")
    assert code == 2 and "--force" in err and Path("policy.yaml").read_text() == "# my local edits\n"
    code, out, _ = run(capsys, "pull", "-o", "-")
    assert code == 0 and out == V1 and not Path("-").exists()
    assert run(capsys, "pull", "--force")[0] == 0 and Path("policy.yaml").read_text() == V1
    # not on a terminal and no --yes: refused, and nothing was revoked
    code, _, err = run(capsys, "revoke")
    assert code == 2 and "--yes" in err and dev.head_etag().startswith('"v1.')
    code, out, _ = run(capsys, "revoke", "--yes", "--app-name", dev.name)
    assert code == 0 and "revoked" in out
    code, out, _ = run(capsys, "status", "--json")  # the hidden alias still works
    assert code == 0 and json.loads(out)["head"]["kind"] == "revoke"


def test_diagnose_checks_the_cloud_bundle_when_d2_token_is_set(dev, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    Path("policy.yaml").write_text("policies: [oops\n")  # a local file the runtime would not use
    monkeypatch.setenv("D2_TOKEN", dev.runtime)
    monkeypatch.setenv("D2_APP", dev.name)
    code, out, _ = run(capsys, "diagnose", "-f", "json")
    report = json.loads(out)
    assert code == 1 and report["mode"] == "cloud" and "no published policy" in " ".join(report["problems"])
    dev.publish(V2)
    code, out, _ = run(capsys, "diagnose", "-f", "json")
    report = json.loads(out)
    assert code == 0, report
    assert report["cloud"]["version"] == 1 and report["cloud"]["revoked"] is False
    assert report["policy"]["path"] == f"bundle:{dev.name}@v1" and report["counts"]["tools"] == 2
    code, out, _ = run(capsys, "diagnose")
    assert code == 0 and "cloud (D2_TOKEN is set)" in out
    monkeypatch.setenv("D2_TOKEN", dev.developer)
    assert run(capsys, "revoke", "--yes")[0] == 0
    monkeypatch.setenv("D2_TOKEN", dev.runtime)
    code, out, _ = run(capsys, "diagnose", "-f", "json")
    assert code == 1 and "revoked" in " ".join(json.loads(out)["problems"])


def test_serve_takes_db_from_the_environment_and_keeps_it_private(tmp_path: Path) -> None:
    db = tmp_path / "cp" / "d2.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("D2_")}
    env |= {"PYTHONPATH": str(ROOT), "D2_SERVER_DB": str(db), "NO_COLOR": "1"}

    def d2(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "d2", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert d2("serve", "init").returncode == 0
    assert d2("serve", "create-app", "billing").stdout.strip() == "billing"
    assert d2("serve", "issue-token", "--kind", "runtime", "--app", "billing").stdout.startswith("d2_rt_")
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    env.pop("D2_SERVER_DB")
    missing = d2("serve", "create-app", "other")
    assert missing.returncode == 2 and "D2_SERVER_DB" in missing.stderr
    help_text = d2("serve", "--help").stdout
    for flag in ("--cache-ttl", "--audience", "--issuer", "--ingest-rate", "--ingest-burst"):
        assert flag in help_text, flag
