"""Shared fixtures: every test starts with no policy loaded and no user context."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import d2
from d2._runtime.context import push_state, reset_state
from d2._sources import manager as _manager

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _isolate_d2(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Unload policies, clear the user and keep discovery away from the developer's own config."""
    for name in (
        "D2_POLICY_FILE",
        "D2_TOKEN",
        "D2_STRICT_SYNC",
        "D2_API_URL",
        "D2_STATE_PATH",
        "D2_TELEMETRY",
        "D2_APP",
        "D2_BUNDLE_URL",
        "D2_JWKS_URL",
        "D2_PIN_JWKS_THUMBPRINTS",
        "D2_ALLOW_VOLATILE_FLOOR",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))
    monkeypatch.setenv("D2_SILENT", "1")
    managers = dict(_manager._MANAGERS)
    guards_before = {name: set(m._guards) for name, m in managers.items()}
    token = push_state(None)
    yield
    reset_state(token)
    d2.shutdown_all_rbac()
    # Guards decorated inside a test must not outlive it: the next test's policy is checked against
    # every registered guard's signature.
    for name, manager in list(_manager._MANAGERS.items()):
        keep = guards_before.get(name, set())
        for guard in list(manager._guards):
            if guard not in keep:
                manager._guards.discard(guard)


@pytest.fixture
def write_policy(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write policy text to a file and return its path."""

    def write(text: str, name: str = "policy.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
