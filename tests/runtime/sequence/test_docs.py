"""Every example in docs/sequences.md and docs/data-flow.md runs, so the docs never drift.

Convention of those pages: each ```yaml block is a complete policy that loads without errors, and
without warnings other than those a ``# expect D2Wnnn: why`` comment in the block names; each ```python block runs against the nearest yaml block above it, saved as policy.yaml in
a scratch directory; a bare ``` block right after a python block is that block's printed output
(compared with whitespace normalised, since the page wraps long lines).
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from d2._lang.compiler import compile_policy
from d2._lang.source import parse_policy_text

ROOT = Path(__file__).parents[3]
PAGES = ["docs/sequences.md", "docs/data-flow.md"]
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    page: str
    index: int
    lang: str
    text: str
    policy: str | None
    output: str | None


def blocks() -> list[Block]:
    found: list[Block] = []
    for page in PAGES:
        fences = [
            (m.group(1), m.group(2)) for m in _FENCE.finditer((ROOT / page).read_text(encoding="utf-8"))
        ]
        policy: str | None = None
        for i, (lang, text) in enumerate(fences):
            if lang == "yaml":
                policy = text
            following = fences[i + 1] if i + 1 < len(fences) else None
            output = (
                following[1] if lang == "python" and following is not None and following[0] == "" else None
            )
            if lang in ("yaml", "python"):
                found.append(Block(page, i, lang, text, policy, output))
    return found


BLOCKS = blocks()


def test_pages_have_examples() -> None:
    for page in PAGES:
        assert sum(b.page == page and b.lang == "python" for b in BLOCKS) >= 2, page


@pytest.mark.parametrize(
    "block", [b for b in BLOCKS if b.lang == "yaml"], ids=lambda b: f"{b.page}#{b.index}"
)
def test_yaml_block_loads_cleanly(block: Block) -> None:
    result = compile_policy(parse_policy_text(block.text, "policy.yaml"))
    assert not result.errors, [d.render() for d in result.errors]
    expected = re.findall(r"^# expect (D2W\d{3}):", block.text, re.MULTILINE)
    assert [d.code for d in result.warnings] == expected, [d.render() for d in result.warnings]


@pytest.mark.parametrize(
    "block", [b for b in BLOCKS if b.lang == "python"], ids=lambda b: f"{b.page}#{b.index}"
)
def test_python_block_runs(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert block.policy is not None, "a python block needs a yaml block above it"
    (tmp_path / "policy.yaml").write_text(block.policy, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block.text, f"{block.page}#{block.index}", "exec"), {"__name__": "__doc_example__"})
    if block.output is not None:
        assert " ".join(out.getvalue().split()) == " ".join(block.output.split())
