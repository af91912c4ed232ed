"""Static hosting end to end: ``d2 bundle`` signs, a plain file server serves, the SDK verifies."""

from __future__ import annotations

import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import d2
from d2tools.cli import main

POLICY = "policies:\n  - role: r\n    permissions: [report.read]\n"


@d2.d2_guard("report.read")
def read_report() -> str:
    return "report"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def www(tmp_path: Path):  # type: ignore[no-untyped-def]
    root = tmp_path / "www"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_sign_with_a_local_key_and_serve_from_any_http_server(www, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    root, url = www
    key, policy = tmp_path / "signing.pem", tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    assert main(["bundle", "keygen", "-o", str(key)]) == 0
    kid = capsys.readouterr().out.strip()
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert main(["bundle", "jwks", "--key", str(key), "-o", str(root / "jwks.json")]) == 0
    assert json.loads((root / "jwks.json").read_text())["keys"][0]["kid"] == kid
    args = ["bundle", "sign", str(policy), "--key", str(key), "--app", "reports", "--version", "1"]
    assert main([*args, "-o", str(root / "policy.jws")]) == 0
    assert main(["bundle", "verify", str(root / "policy.jws"), "--jwks", f"{url}/jwks.json"]) == 0
    claims = json.loads(capsys.readouterr().out)
    assert (claims["app"], claims["version"], claims["kid"]) == ("reports", 1, kid)

    monkeypatch.setenv("D2_STATE_PATH", str(tmp_path / "state.json"))
    monkeypatch.setenv("D2_BUNDLE_URL", f"{url}/policy.jws")
    monkeypatch.setenv("D2_JWKS_URL", f"{url}/jwks.json")
    monkeypatch.setenv("D2_APP", "reports")
    monkeypatch.setenv("D2_PIN_JWKS_THUMBPRINTS", kid)
    d2.configure_rbac_sync()
    with d2.set_user_context("u", ["r"]):
        assert read_report() == "report"


def test_verify_refuses_a_tampered_file(www, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    root, _ = www
    key, policy = tmp_path / "k.pem", tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    main(["bundle", "keygen", "-o", str(key)])
    main(["bundle", "jwks", "--key", str(key), "-o", str(root / "jwks.json")])
    main(
        [
            "bundle",
            "sign",
            str(policy),
            "--key",
            str(key),
            "--app",
            "a",
            "--version",
            "2",
            "-o",
            str(root / "b.jws"),
        ]
    )
    token = (root / "b.jws").read_text().strip()
    head, payload, sig = token.split(".")
    (root / "b.jws").write_text(f"{head}.{payload[:-2]}AA.{sig}")
    capsys.readouterr()
    assert main(["bundle", "verify", str(root / "b.jws"), "--jwks", str(root / "jwks.json")]) == 1
    assert main(["bundle", "keygen", "-o", str(key)]) == 2, "an existing key is never overwritten"


def test_signing_refuses_a_policy_that_does_not_lint(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    key, policy = tmp_path / "k.pem", tmp_path / "policy.yaml"
    policy.write_text("policies:\n  - role: r\n    permissions: ['@nope']\n")
    main(["bundle", "keygen", "-o", str(key)])
    code = main(["bundle", "sign", str(policy), "--key", str(key), "--app", "a", "--version", "1"])
    assert code == 1 and "D2E010" in capsys.readouterr().err
