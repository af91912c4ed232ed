"""Every Python block of docs/injection-defence.md runs, and every YAML block compiles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from d2._toolkit import compile_policy, parse_policy_text

DOC = Path(__file__).parents[3] / "docs" / "injection-defence.md"
TEXT = DOC.read_text(encoding="utf-8")
PYTHON = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)
YAML = re.findall(r"```yaml\n(.*?)```", TEXT, flags=re.S)


@pytest.mark.parametrize("code", PYTHON, ids=[f"block{i}" for i in range(len(PYTHON))])
def test_python_block_runs(code: str) -> None:
    exec(compile(code, str(DOC), "exec"), {"__name__": "docs_injection_defence"})


@pytest.mark.parametrize("block", YAML, ids=[f"yaml{i}" for i in range(len(YAML))])
def test_yaml_block_compiles(block: str) -> None:
    text = block if block.lstrip().startswith(("policies:", "metadata:")) else _wrap(block)
    result = compile_policy(parse_policy_text(text, "doc.yaml"))
    assert not result.errors, [d.render() for d in result.errors]


def _wrap(conditions: str) -> str:
    """A bare list of input conditions, placed in a grant so it can be compiled."""
    body = "".join(f"            {line}\n" for line in conditions.strip().splitlines())
    return (
        "policies:\n  - role: r\n    permissions:\n      - tool: t\n        conditions:\n"
        f"          input:\n{body}"
    )
