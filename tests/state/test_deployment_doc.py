"""docs/deployment.md runs as written: its Python blocks, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "deployment.md"


def test_deployment_doc_examples_run(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 4
    namespace: dict[str, object] = {"__name__": "deployment_doc"}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)


def test_deployment_doc_names_every_setting() -> None:
    text = DOC.read_text()
    for name in (
        "D2_STATE_URL",
        "D2_SESSION_KEY",
        "D2_STATE_DEGRADED",
        "D2_SESSION_JWKS",
        "state_unavailable",
        "session_invalid",
        "max_calls",
        "max_labels",
        "timeout",
        "ttl",
        "X-D2-Session",
        "/v1/events/ingest",
    ):
        assert name in text, name
