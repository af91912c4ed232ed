"""docs/bundle-format.md as a user follows it: sign by hand, serve from a plain web server, pin, rotate."""

from __future__ import annotations

import functools
import json
import re
import shlex
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import d2
from d2._toolkit import bundle_source
from d2tools.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "bundle-format.md"
POLICY = "policies:\n  - role: r\n    permissions: [report.read]\n"


@d2.d2_guard("report.read")
def read_report() -> str:
    return "report"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    (tmp_path / "www").mkdir()
    (tmp_path / "policy.yaml").write_text(POLICY)
    monkeypatch.chdir(tmp_path)
    handler = functools.partial(_Quiet, directory=str(tmp_path / "www"))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def section(title: str, lang: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8").split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    block = re.findall(rf"```{lang}\n(.*?)```", text, re.S)[0]
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def test_the_signing_walkthrough_runs_and_the_sdk_follows_it(site, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    kid = ""
    for line in section("Signing and checking by hand", "bash"):
        words = shlex.split(line)
        assert words[0] == "d2", line
        assert main(words[1:]) == 0, (line, capsys.readouterr())
        out = capsys.readouterr().out
        kid = kid or out.strip()
    assert len(kid) == 43, kid
    for line in section("Pointing the SDK at it", "bash"):
        name, _, value = line.removeprefix("export ").partition("=")
        value = value.replace("https://cdn.example.com", site)
        monkeypatch.setenv(name, kid if value.startswith("<kid") else value)
    d2.configure_rbac_sync()
    assert bundle_source().current.app == "billing"
    with d2.set_user_context("u", ["r"]):
        assert read_report() == "report"


def test_rotation_as_documented_keeps_a_pinned_sdk_working(site, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["bundle", "keygen", "-o", "old.pem"]) == 0
    old = capsys.readouterr().out.strip()
    main(["bundle", "jwks", "--key", "old.pem", "-o", "www/jwks.json"])
    main(
        [
            "bundle",
            "sign",
            "policy.yaml",
            "--key",
            "old.pem",
            "--app",
            "billing",
            "--version",
            "1",
            "-o",
            "www/p.jws",
        ]
    )
    for name, value in {
        "D2_BUNDLE_URL": f"{site}/p.jws",
        "D2_JWKS_URL": f"{site}/jwks.json",
        "D2_APP": "billing",
        "D2_PIN_JWKS_THUMBPRINTS": old,
        "D2_JWKS_MIN_REFRESH": "1",
        "D2_POLL_INTERVAL": "3600",
    }.items():
        monkeypatch.setenv(name, value)
    d2.configure_rbac_sync()
    source = bundle_source()
    assert source.current.version == 1
    # "make a new key, publish a JWKS that lists both keys (--key old.pem --key new.pem), sign with the new key"
    main(["bundle", "keygen", "-o", "new.pem"])
    new = capsys.readouterr().out.strip()
    main(["bundle", "jwks", "--key", "old.pem", "--key", "new.pem", "-o", "www/jwks.json"])
    assert len(json.loads(Path("www/jwks.json").read_text())["d2_endorsements"]) == 2
    main(
        [
            "bundle",
            "sign",
            "policy.yaml",
            "--key",
            "new.pem",
            "--app",
            "billing",
            "--version",
            "2",
            "-o",
            "www/p.jws",
        ]
    )
    source.jwks.min_refresh = 0
    source.poll_once()
    assert source.current.version == 2 and source.current.kid == new, source.last_error
    # A JWKS listing the new key without the endorsement would not have been accepted.
    main(["bundle", "keygen", "-o", "rogue.pem"])
    capsys.readouterr()
    plain = json.loads(Path("www/jwks.json").read_text())
    rogue_jwks = json.loads(_jwks_of("rogue.pem", capsys))
    plain["keys"].append(rogue_jwks["keys"][0])
    Path("www/jwks.json").write_text(json.dumps(plain))
    main(
        [
            "bundle",
            "sign",
            "policy.yaml",
            "--key",
            "rogue.pem",
            "--app",
            "billing",
            "--version",
            "3",
            "-o",
            "www/p.jws",
        ]
    )
    source.poll_once()
    assert source.current.version == 2 and isinstance(source.last_error, d2.InvalidSignatureError)


def _jwks_of(key: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["bundle", "jwks", "--key", key]) == 0
    return capsys.readouterr().out
