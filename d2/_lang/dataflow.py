"""Data-flow labels: what a request has touched, and which tools that blocks.

``metadata.data_flow.labels`` maps a tool or ``@group`` to the labels a request gains when that tool
is allowed to run; ``blocks`` maps a label to the tools or ``@groups`` refused while the request
carries it (``*`` blocks every tool). Labels describe data, not people, so blocks bind every role.
Both maps are resolved to per-tool tables at load, so a call costs one lookup plus one set test per
label that could block it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from d2._base.diagnostics import Location
from d2._base.suggest import suggest
from d2._core.model import Violation
from d2._lang.origin_ops import compile_untrusted
from d2._lang.seqprogram import TRAIL_WINDOW
from d2._lang.seqrefs import error_once, known_tools, resolve_ref
from d2._lang.source import JsonPath
from d2.exceptions import Reason

if TYPE_CHECKING:
    from d2._core.state import RequestLog
    from d2._lang.compile_context import CompileContext

__all__ = ["Block", "FlowProgram", "compile_data_flow"]


@dataclass(frozen=True, slots=True)
class Block:
    """One ``blocks`` entry: while the request carries ``label``, tools of ``ref`` are refused."""

    label: str
    ref: str
    location: Location


@dataclass(frozen=True, slots=True, eq=False)
class FlowProgram:
    """Per-tool tables of the labels a tool adds and the blocks that refuse it."""

    emits: Mapping[str, frozenset[str]]
    blocks: Mapping[str, tuple[Block, ...]]
    block_all: tuple[Block, ...] = ()
    # Labels declared untrusted, and tool -> the untrusted labels it emits (its results are tracked).
    untrusted: frozenset[str] = frozenset()
    tracked: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def check(self, log: RequestLog, tool: str) -> Violation | None:
        """Refuse ``tool`` when the request carries a label that blocks it."""
        block = self.blocking(log, tool)
        return None if block is None else self.violation(block, log, tool)

    def blocking(self, log: RequestLog, tool: str) -> Block | None:
        """The first block that refuses ``tool`` now, if any (no message built: the engine may let a
        sequence rule's refusal take precedence)."""
        facts = log.facts
        if not facts:
            return None
        for block in self.blocks.get(tool, ()):
            if block.label in facts:
                return block
        for block in self.block_all:
            if block.label in facts:
                return block
        return None

    def record(self, log: RequestLog, tool: str) -> None:
        """Add the labels ``tool`` emits to the request (the call was allowed)."""
        labels = self.emits.get(tool)
        if labels:
            log.facts.update(labels)

    def source_of(self, label: str, log: RequestLog) -> tuple[int, str] | None:
        """Find the latest recent call (1-based position, tool) that added ``label``, if any.

        Looks back at most TRAIL_WINDOW calls, so explaining a refusal stays cheap in a long request.
        """
        position = len(log.history)
        for tool in itertools.islice(reversed(log.history), TRAIL_WINDOW):
            if label in self.emits.get(tool, ()):
                return position, tool
            position -= 1
        return None

    def violation(self, block: Block, log: RequestLog, tool: str) -> Violation:
        """The refusal for ``block``, naming the call that added its label."""
        source = self.source_of(block.label, log)
        origin = (
            f"added by {source[1]} (call {source[0]})"
            if source is not None
            else f"set by code with record_fact(), by another policy's tool, or over {TRAIL_WINDOW} calls ago"
        )
        labels = ", ".join(sorted(log.facts))
        via = f" (listed via {block.ref})" if block.ref != tool else ""
        message = (
            f"data-flow label '{block.label}' blocks this tool{via}; the label was {origin}; "
            f"request labels: {labels}"
        )
        return Violation(Reason.DATA_FLOW, tool, "blocks", block.location, message, block.label)


def compile_data_flow(node: Any, path: JsonPath, ctx: CompileContext) -> FlowProgram | None:
    """Compile ``metadata.data_flow`` (None when it neither emits nor blocks anything)."""
    if not isinstance(node, dict):
        error_once(ctx, "D2E003", "'data_flow' must be a mapping with 'labels' and 'blocks'", path)
        return None
    known = known_tools(ctx)
    emits, emitted = _labels(node.get("labels"), (*path, "labels"), ctx, known)
    blocks, block_all = _blocks(node.get("blocks"), (*path, "blocks"), ctx, known, emitted)
    untrusted, tracked = compile_untrusted(node.get("untrusted"), (*path, "untrusted"), ctx, emits)
    if not emits and not blocks and not block_all and not untrusted:
        return None
    return FlowProgram(
        {tool: frozenset(labels) for tool, labels in emits.items()},
        {tool: tuple(found) for tool, found in blocks.items()},
        tuple(block_all),
        untrusted,
        tracked,
    )


def _labels(
    node: Any, path: JsonPath, ctx: CompileContext, known: frozenset[str]
) -> tuple[dict[str, set[str]], set[str]]:
    emits: dict[str, set[str]] = {}
    emitted: set[str] = set()
    if not isinstance(node, dict):
        return emits, emitted
    for ref, labels in node.items():
        if not isinstance(ref, str) or not ref:
            continue
        where: JsonPath = (*path, ref)
        tools = _source_tools(ref, where, ctx, known)
        if tools is None or not isinstance(labels, list):
            continue
        names = [label for label in labels if isinstance(label, str) and label]
        emitted.update(names)
        for tool in tools:
            emits.setdefault(tool, set()).update(names)
    return emits, emitted


def _source_tools(
    ref: str, path: JsonPath, ctx: CompileContext, known: frozenset[str]
) -> frozenset[str] | None:
    """Resolve a ``labels`` key; its errors point at the key, where the reader looks."""
    if ref == "*":
        ctx.error(
            "D2E301",
            "'*' cannot emit data-flow labels",
            path,
            key=True,
            hint="name the tools or @groups whose data the label describes",
        )
        return None
    if ref.startswith("@") and ref[1:] not in ctx.tool_groups:
        guess = suggest(ref[1:], ctx.tool_groups)
        hint = f"did you mean '@{guess}'?" if guess else "declare it under metadata.tool_groups"
        ctx.error("D2E010", f"undefined tool group '{ref}'", path, key=True, hint=hint)
        return None
    return resolve_ref(ctx, ref, path, known=known, typo_code="D2W302", where="data-flow labels")


def _blocks(
    node: Any, path: JsonPath, ctx: CompileContext, known: frozenset[str], emitted: set[str]
) -> tuple[dict[str, list[Block]], list[Block]]:
    blocks: dict[str, list[Block]] = {}
    block_all: list[Block] = []
    if not isinstance(node, dict):
        return blocks, block_all
    for label, targets in node.items():
        where: JsonPath = (*path, label)
        if not isinstance(label, str) or not isinstance(targets, list):
            continue
        _check_label(label, where, ctx, emitted)
        if not targets:
            ctx.warning(
                "D2W303", f"label '{label}' blocks no tool", where, key=True, hint="list tools or @groups"
            )
        for i, ref in enumerate(targets):
            if not isinstance(ref, str) or not ref:
                continue
            block = Block(label, ref, ctx.loc((*where, i)))
            if ref == "*":
                block_all.append(block)
                continue
            tools = resolve_ref(
                ctx, ref, (*where, i), known=known, typo_code="D2W302", where="data-flow blocks"
            )
            for tool in sorted(tools or ()):
                blocks.setdefault(tool, []).append(block)
    return blocks, block_all


def _check_label(label: str, path: JsonPath, ctx: CompileContext, emitted: set[str]) -> None:
    """A blocked label no tool emits is a typo (error) or a label set by code (warning)."""
    if label in emitted:
        return
    guess = suggest(label, emitted)
    if guess is not None:
        ctx.error(
            "D2E302",
            f"label '{label}' is blocked but no tool emits it, and it resembles the emitted label '{guess}'",
            path,
            key=True,
            hint=f"did you mean '{guess}'? A misspelt label never blocks anything",
        )
        return
    ctx.warning(
        "D2W301",
        f"label '{label}' is blocked but no tool emits it; only record_fact('{label}') can set it",
        path,
        key=True,
        hint="add the tools that produce this data under data_flow.labels, or set it from code",
    )
