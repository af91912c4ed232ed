"""``d2 tui --server URL --app APP``: the published bundle, pulled with D2_TOKEN and verified."""

from __future__ import annotations

from pathlib import Path

import pytest

from d2tools.tui.session import TuiOptions, open_session

POLICY = Path(__file__).resolve().parents[1] / "fixtures" / "tui" / "policy.yaml"


def test_server_bundle_opens_verified(app, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    assert app.publish(POLICY.read_text()).status_code == 201
    monkeypatch.setenv("D2_TOKEN", app.runtime)
    session = open_session(TuiOptions(server=app.server.url, app=app.name))
    assert session.notes == []
    info = session.policy.bundle
    assert info is not None and info.verified and info.app == app.name and info.version == 1
    assert info.etag and info.content_sha256
    assert session.policy.policy is not None and "analyst" in session.policy.policy.roles
    assert [r.info.version for r, _ in session.bundles] == [1]


def test_server_without_token_says_what_to_set(app, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("D2_TOKEN", raising=False)
    session = open_session(TuiOptions(server=app.server.url, app=app.name))
    assert session.policy.policy is None
    assert any("D2_TOKEN is not set" in n for n in session.notes)


def test_server_with_a_wrong_token_is_a_note_not_a_crash(app, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("D2_TOKEN", "d2_rt_not-a-real-token")
    session = open_session(TuiOptions(server=app.server.url, app=app.name))
    assert session.policy.policy is None and session.notes


def test_local_file_with_server_diffs_against_the_published_bundle(
    app, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    assert app.publish(POLICY.read_text()).status_code == 201
    edited = tmp_path / "policy.yaml"
    edited.write_text(POLICY.read_text().replace('      - "@egress"\n', ""))
    monkeypatch.setenv("D2_TOKEN", app.runtime)
    session = open_session(TuiOptions(path=edited, server=app.server.url, app=app.name))
    assert session.policy.file == str(edited)
    assert session.diff is not None
    assert session.diff.lines()[2:] == ["~ role analyst", "    - email.send", "    - http.post"]
