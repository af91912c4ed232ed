"""The README's first example runs as written against its own policy block."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import d2

README = Path(__file__).parents[1] / "README.md"


def test_readme_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = README.read_text()
    code = re.findall(r"```python\n(.*?)```", text, flags=re.S)[0]
    policy = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)[0]
    (tmp_path / "policy.yaml").write_text(policy)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    with d2.set_user_context("mallory", ["guest"]), pytest.raises(d2.PermissionDeniedError):
        d2.d2_guard("billing.read")(lambda: None)()


def test_readme_starts_with_the_two_commands() -> None:
    first_block = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)[0].splitlines()
    assert first_block[0].startswith("pip install -e '.[dev]' && python examples/quickstart/app.py")
    assert first_block[1].startswith("python -m pytest -q")
    ci = (Path(__file__).parents[1] / ".ci" / "run").read_text()
    assert "python -m pytest -q" in ci
