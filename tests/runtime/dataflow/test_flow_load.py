"""Data-flow sections that cannot work as written are load errors; doubtful ones are warnings."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from d2._lang.dataflow import FlowProgram

if TYPE_CHECKING:
    from conftest import Seq


def compile_flow(flow: Seq, body: str, groups: str = "egress: [web.post, mail.send]") -> object:
    """Compile a policy whose data_flow section is ``body`` (lines 5 and 6 of the file)."""
    text = (
        f"metadata:\n  tool_groups:\n    {groups}\n  data_flow:\n{body}\n"
        "policies:\n  - role: r\n    permissions: [db.read, web.post, mail.send, log.write]\n"
    )
    return flow.compile_text(text)


def indent(text: str) -> str:
    return "\n".join("    " + line for line in text.strip("\n").splitlines())


@pytest.mark.parametrize(
    ("body", "code", "where", "needle"),
    [
        (
            'labels: {"@nope": [SENSITIVE]}\nblocks: {SENSITIVE: [web.post]}',
            "D2E010",
            (5, 14),
            "undefined tool group '@nope'",
        ),
        (
            'labels: {db.read: [SENSITIVE]}\nblocks: {SENSITIVE: ["@egres"]}',
            "D2E010",
            (6, 26),
            "did you mean '@egress'?",
        ),
        (
            "labels: {db.read: [SENSITIVE]}\nblocks: {SENSITVE: [web.post]}",
            "D2E302",
            (6, 14),
            "did you mean 'SENSITIVE'?",
        ),
        ('labels: {"*": [AUDITED]}', "D2E301", (5, 14), "'*' cannot emit"),
        ("labels: {db.read: SENSITIVE}", "D2E003", (5, 23), "must be a list"),
        ("lables: {db.read: [SENSITIVE]}", "D2E002", (5, 5), "did you mean 'labels'?"),
        ("blocks: {SENSITIVE: web.post}", "D2E003", (5, 25), "must be a list"),
    ],
)
def test_load_errors(flow: Seq, body: str, code: str, where: tuple[int, int], needle: str) -> None:
    result = compile_flow(flow, indent(body))
    assert result.policy is None  # type: ignore[attr-defined]
    errors = [d for d in result.errors if d.code == code]  # type: ignore[attr-defined]
    assert errors, [d.render() for d in result.diagnostics]  # type: ignore[attr-defined]
    assert any(needle in d.render() and (d.line, d.col) == where for d in errors), [
        d.render() for d in errors
    ]


def test_blocked_label_nothing_emits_is_a_warning(flow: Seq) -> None:
    """It can still be set from code with record_fact(), so it loads; the warning says how it gets set."""
    result = compile_flow(
        flow,
        indent("labels: {db.read: [SENSITIVE]}\nblocks: {SENSITIVE: [web.post], UNTRUSTED: [log.write]}"),
        groups="{}",
    )
    assert result.policy is not None  # type: ignore[attr-defined]
    assert [(d.code, d.line) for d in result.warnings] == [("D2W301", 6)]  # type: ignore[attr-defined]
    assert "record_fact('UNTRUSTED')" in result.warnings[0].message  # type: ignore[attr-defined]


def test_emitted_label_nothing_blocks_is_fine(flow: Seq) -> None:
    """Such labels serve has_fact() in application code (audit logging): no diagnostic."""
    result = compile_flow(flow, indent("labels: {db.read: [PII]}"), groups="{}")
    assert result.policy is not None and not result.diagnostics  # type: ignore[attr-defined]
    assert isinstance(result.policy.flow, FlowProgram)  # type: ignore[attr-defined]


def test_misspelt_tool_in_blocks_warns_with_the_guess(flow: Seq) -> None:
    result = compile_flow(flow, indent("labels: {db.read: [S]}\nblocks: {S: [web.pots]}"), groups="{}")
    assert [d.code for d in result.warnings] == ["D2W302"]  # type: ignore[attr-defined]
    assert "did you mean 'web.post'?" in result.warnings[0].render()  # type: ignore[attr-defined]


def test_empty_block_list_warns(flow: Seq) -> None:
    result = compile_flow(flow, indent("labels: {db.read: [S]}\nblocks: {S: []}"), groups="{}")
    assert [d.code for d in result.warnings] == ["D2W303"]  # type: ignore[attr-defined]


def test_empty_section_compiles_to_no_program(flow: Seq) -> None:
    result = compile_flow(flow, indent("labels: {}\nblocks: {}"), groups="{}")
    assert result.policy is not None and result.policy.flow is None  # type: ignore[attr-defined]


def test_star_in_blocks_refuses_every_tool(flow: Seq) -> None:
    flow.load(
        """
        metadata:
          data_flow:
            labels:
              vault.open: [CROWN_JEWELS]
            blocks:
              CROWN_JEWELS: ["*"]
        policies:
          - role: r
            permissions: ["*"]
        """
    )
    assert flow.play(["log.write", "vault.open", "log.write", "vault.open"], ["r"]) == [
        True,
        True,
        False,
        False,
    ]
    assert "listed via *" in (flow.last_error.detail or "")


def test_tables_are_resolved_per_tool_at_load(flow: Seq) -> None:
    result = compile_flow(
        flow,
        indent(
            'labels: {"@egress": [SENT], db.read: [S, PII]}\nblocks: {S: ["@egress", log.write], PII: [log.write]}'
        ),
    )
    program = result.policy.flow  # type: ignore[attr-defined]
    assert isinstance(program, FlowProgram)
    assert program.emits == {"web.post": {"SENT"}, "mail.send": {"SENT"}, "db.read": {"S", "PII"}}
    assert {tool: [b.label for b in blocks] for tool, blocks in program.blocks.items()} == {
        "web.post": ["S"],
        "mail.send": ["S"],
        "log.write": ["S", "PII"],
    }
