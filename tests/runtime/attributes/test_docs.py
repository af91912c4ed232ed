"""Every Python block in docs/least-privilege.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).parents[3] / "docs" / "least-privilege.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_python_block_runs(code: str) -> None:
    exec(compile(code, str(DOC), "exec"), {"__name__": "docs_least_privilege"})


def test_yaml_block_loads(tmp_path: Path) -> None:
    import d2

    (block,) = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)
    (tmp_path / "policy.yaml").write_text(block)
    assert d2.load_policy_file(tmp_path / "policy.yaml").known_tools == {"rows.read", "payments.send"}
