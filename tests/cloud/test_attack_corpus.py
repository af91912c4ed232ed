"""Replay the attack corpus (tests/fixtures/attacks): every forged bundle and state file is refused.

Each case is checked twice: by the verifier alone (the exact error class) and by a running SDK that
already holds a genuine policy (the policy in force never changes). State files are planted under
the SDK's own source key and must never install anything, offline or online.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import d2
from d2._toolkit import bundle_source, parse_jwks, verify_bundle

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "attacks"
BUNDLES = sorted((CORPUS / "bundles").glob("*.json"))
STATES = sorted((CORPUS / "state").glob("*.json"))
JWKS = json.loads((CORPUS / "jwks.json").read_text())
KID = JWKS["keys"][0]["kid"]
GOOD = (CORPUS / "good.jws").read_text().strip()


@d2.d2_guard("tool.a")
def tool_a() -> str:
    return "a"


@d2.d2_guard("tool.secret")
def tool_secret() -> str:
    return "secret"


def load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def allowed(fn) -> bool:  # type: ignore[no-untyped-def]
    with d2.set_user_context("u", ["r"]):
        try:
            fn()
        except d2.PermissionDeniedError:
            return False
    return True


def test_the_corpus_is_there() -> None:
    assert len(BUNDLES) >= 25 and len(STATES) >= 6
    assert verify_bundle(GOOD, parse_jwks(JWKS), app="corpus").version == 6


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.stem)
def test_the_verifier_refuses_each_bundle(path: Path) -> None:
    case = load(path)
    error = getattr(d2, case["error"])
    with pytest.raises(error):
        verify_bundle(
            case["token"], parse_jwks(JWKS), app=case["app"], min_version=case["floor"], now=case["now"]
        )


@pytest.fixture
def corpus_host(host: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("D2_STATE_PATH", str(tmp_path / "bundles.json"))
    monkeypatch.setenv("D2_POLL_INTERVAL", "3600")
    monkeypatch.setenv("D2_APP", "corpus")
    host.put("/jwks.json", json.dumps(JWKS))
    host.put("/b.jws", GOOD)
    return host


def start(host: Any, **kw: Any) -> None:
    d2.configure_rbac_sync(
        bundle_url=f"{host.url}/b.jws", jwks_url=f"{host.url}/jwks.json", startup_timeout=2, **kw
    )


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.stem)
def test_a_running_sdk_keeps_its_policy_under_each_bundle(corpus_host, path: Path) -> None:  # type: ignore[no-untyped-def]
    start(corpus_host)
    source = bundle_source()
    before = d2.get_policy_manager().policy
    corpus_host.put("/b.jws", load(path)["token"])
    source.poll_once()
    assert isinstance(source.last_error, d2.D2Error), source.last_error
    assert source.current.version == 6 and d2.get_policy_manager().policy is before
    assert allowed(tool_a) and not allowed(tool_secret)


def plant(state: Path, entry: dict[str, Any]) -> None:
    data = json.loads(state.read_text())
    key = next(iter(data["sources"]))
    data["sources"][key] = entry
    state.write_text(json.dumps(data))
    state.chmod(0o600)


@pytest.mark.parametrize("path", STATES, ids=lambda p: p.stem)
def test_a_planted_state_file_never_installs_anything(corpus_host, tmp_path, path: Path) -> None:  # type: ignore[no-untyped-def]
    case = load(path)
    start(corpus_host)
    d2.shutdown_all_rbac()
    plant(tmp_path / "bundles.json", case["entry"])
    # Online: the genuine v6 from the host wins whatever the file says.
    start(corpus_host)
    assert bundle_source().current.version == 6, bundle_source().last_error
    assert not allowed(tool_secret)
    d2.shutdown_all_rbac()
    if case.get("genuine"):
        return
    # Offline with the trusted key pinned: the planted entry is refused, nothing is installed.
    plant(tmp_path / "bundles.json", case["entry"])
    corpus_host.close()
    start(corpus_host, pin_jwks_thumbprints=[KID])
    assert bundle_source().current is None and not allowed(tool_secret) and not allowed(tool_a)
