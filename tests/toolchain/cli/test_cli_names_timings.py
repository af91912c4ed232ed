"""Did-you-mean in ``inspect --explain`` and ``d2 test``; test timings; settings for ``d2 serve``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
QUICKSTART = ROOT / "examples" / "quickstart" / "policy.yaml"


def test_explain_suggests_the_tool_meant(cli) -> None:
    result = cli("inspect", "--policy", QUICKSTART, "--explain", "support", "billing.refnd")
    assert result.code == 1 and "did you mean 'billing.refund'?" in result.out
    role = cli("inspect", "--policy", QUICKSTART, "--explain", "suport", "billing.refund")
    flat = " ".join(role.err.replace("│", " ").split())  # a usage error is drawn in a box
    assert role.code == 2 and "did you mean 'support'?" in flat


def _scenario(tmp_path: Path, text: str) -> Path:
    (tmp_path / "policy.yaml").write_text(QUICKSTART.read_text())
    path = tmp_path / "a.d2test.yaml"
    path.write_text(text)
    return path


def test_a_failing_step_names_the_tool_and_role_meant(cli, tmp_path: Path) -> None:
    path = _scenario(tmp_path, "cases: [{name: typo, roles: [suport], steps: [{call: billing.red}]}]\n")
    result = cli("test", path)
    assert result.code == 1
    assert "did you mean 'billing.read'?" in result.out and "did you mean 'support'?" in result.out


def test_timings_on_stderr_and_the_slowest_cases_on_request(cli, tmp_path: Path) -> None:
    path = _scenario(
        tmp_path,
        "cases:\n  - {name: one, roles: [viewer], steps: [{call: billing.read}]}\n"
        "  - {name: two, roles: [viewer], steps: [{call: billing.read}, {call: weather.lookup}]}\n",
    )
    plain = cli("test", path)
    assert plain.code == 0 and plain.out.rstrip().endswith("2 passed, 0 failed")
    assert re.search(r"ran 2 case\(s\), 3 step\(s\) in [\d.]+ m?s", plain.err)
    slow = cli("test", path, "--durations", "1")
    lines = slow.out.rstrip().splitlines()
    assert lines[-1] == "2 passed, 0 failed" and lines[-3] == "slowest 1 case(s):"
    assert re.fullmatch(r" +[\d.]+ m?s  \S*a\.d2test\.yaml::(one|two)", lines[-2])


def test_serve_settings_come_from_the_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from d2tools.cli._config import load_config

    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.d2.serve]\ndb = "state/d2.db"\n')
    (tmp_path / "sub").mkdir()
    config = load_config(tmp_path / "sub")
    assert config.path == tmp_path / "pyproject.toml"
    assert config.serve["db"] == str(tmp_path / "state" / "d2.db")
    (tmp_path / "pyproject.toml").write_text("[tool.d2.serve]\ndatabase = 1\n")
    with pytest.raises(ValueError, match="unknown key 'database'"):
        load_config(tmp_path)
