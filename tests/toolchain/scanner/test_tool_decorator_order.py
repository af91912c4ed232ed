"""``@d2_guard`` stacked above a framework's tool decorator is an error the scanner reports (D2S012).

Pydantic AI's ``@agent.tool_plain`` and FastMCP's ``@server.tool`` register the function they get and
return it: a guard above wraps a copy the framework never calls, so every call bypasses the policy
and nothing fails at run time for Pydantic AI. The scanner sees the order in the source.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from d2tools.scanner import FindingCode, scan

SOURCE = textwrap.dedent(
    """\
    from d2 import d2_guard

    @d2_guard("mail.send")
    @agent.tool_plain
    def send(to: str) -> str:
        return to

    @d2_guard("mail.read")
    @server.tool(name="read")
    def read(box: str) -> str:
        return box

    @d2_guard("mail.draft")
    @tool
    def draft(text: str) -> str:
        return text

    @agent.tool_plain
    @d2_guard("mail.ok")
    def fine(to: str) -> str:
        return to

    @d2_guard("mail.other")
    @functools.cache
    def cached(to: str) -> str:
        return to
    """
)


def test_guard_above_a_registering_decorator_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "tools.py").write_text(SOURCE)
    result = scan([tmp_path], root=tmp_path)
    found = sorted(
        (f.line, f.col) for f in result.findings if f.code is FindingCode.GUARD_ABOVE_TOOL_DECORATOR
    )
    assert found == [(3, 1), (8, 1), (13, 1)]
    first = next(f for f in result.findings if f.line == 3)
    assert first.is_error and "@agent.tool_plain" in first.message and "bypasses" in first.message
    assert first.hint is not None and "below @agent.tool_plain" in first.hint
    assert first.render().startswith("tools.py:3:1: D2S012")
    assert {t.tool_id for t in result.tools} >= {"mail.send", "mail.ok", "mail.other"}  # still indexed
