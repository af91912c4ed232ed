"""Turn what the collector saw into guarded tools and findings, using the resolver's answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import CodeRange

from d2 import Severity

from ._model import FindingCode, GuardedTool, GuardForm, IdSource, Parameter, ScanFinding
from ._prune import Skeleton
from ._resolve import FIX_HINT, GuardUse, IdValue, Resolver
from ._signature import from_cst
from ._visitor import Collector, FunctionInfo

__all__ = ["Builder", "PendingId", "Positions"]


@dataclass(frozen=True, slots=True)
class PendingId:
    """A tool whose id is a constant imported from another module, resolved once every file is scanned."""

    index: int  # position of the tool in its file's tool list
    ref: str  # absolute dotted name, e.g. "app.ids.BILLING_READ"
    shown: str  # the id expression as written
    line: int
    col: int


class Positions:
    """Report where nodes of the analysed skeleton start in the original file, 1-based."""

    def __init__(self, ranges: Mapping[cst.CSTNode, CodeRange], skeleton: Skeleton | None) -> None:
        self._ranges = ranges
        self._skeleton = skeleton

    def start(self, node: cst.CSTNode) -> tuple[int, int]:
        start = self._ranges[node].start
        line = start.line if self._skeleton is None else self._skeleton.line(start.line)
        return line, start.column + 1


class Builder:
    """Build one file's tools, findings and pending ids."""

    def __init__(
        self,
        *,
        file: str,
        module: str,
        collector: Collector,
        resolver: Resolver,
        positions: Positions,
        signatures: Mapping[int, tuple[Parameter, ...]],
    ) -> None:
        self.file = file
        self.module = module
        self.tools: list[GuardedTool] = []
        self.findings: dict[tuple[str, int, int], ScanFinding] = {}
        self.pending: list[PendingId] = []
        self._collector = collector
        self._resolver = resolver
        self._positions = positions
        self._signatures = signatures

    def run(self) -> None:
        """Examine every decorator and candidate call of the module."""
        for node, decorators in self._collector.decorated:
            for index, decorator in enumerate(decorators):
                use = self._resolver.guard_use(decorator.decorator)
                if use is not None:
                    self._decorated(node, decorators[index + 1 :], decorator, use)
        for call in self._collector.calls:
            self._call(call)
        if self._collector.has_main_guard or self.module.rpartition(".")[2] == "__main__":
            self._warn_main()

    def _decorated(
        self,
        node: cst.FunctionDef | cst.ClassDef,
        below: tuple[cst.Decorator, ...],
        decorator: cst.Decorator,
        use: GuardUse,
    ) -> None:
        if isinstance(node, cst.ClassDef):
            msg = (
                f"d2_guard replaces class '{node.name.value}' with a guarded function: "
                "isinstance() and subclassing stop working"
            )
            self._finding(
                FindingCode.GUARDED_CLASS, msg, decorator, Severity.WARNING, "guard its methods instead"
            )
        if any(self._resolver.is_descriptor(d.decorator) for d in below):
            msg = "d2_guard is applied to a staticmethod/classmethod/property object and refuses it"
            hint = "put @d2_guard below @staticmethod/@classmethod/@property, directly on the function"
            self._finding(FindingCode.GUARD_ABOVE_DESCRIPTOR, msg, decorator, Severity.ERROR, hint)
        registering = next((d for d in below if _registers_tool(d.decorator)), None)
        if registering is not None:
            shown = cst.Module([]).code_for_node(registering.decorator)
            msg = (
                f"d2_guard is above @{shown}, which registers the function it gets: the framework "
                "keeps the unguarded function (Pydantic AI and FastMCP: every call bypasses the "
                "policy; LangChain and the OpenAI Agents SDK: a TypeError at import)"
            )
            hint = f"put @d2_guard below @{shown}, or use the adapter in d2tools.integrations"
            self._finding(FindingCode.GUARD_ABOVE_TOOL_DECORATOR, msg, decorator, Severity.ERROR, hint)
        info = self._collector.functions[node]
        self._add(use, info, decorator, GuardForm.DECORATOR)

    def _call(self, call: cst.Call) -> None:
        use = self._resolver.guard_use(call.func)
        target = _first_positional(call)
        if use is None or target is None:
            return
        info = self._resolver.function(target, rebinding=call)
        if use.call is None and info is None:
            return  # d2_guard("id") or d2_guard(TOOL): a guard factory, examined where it is applied
        self._add(use, info, call, GuardForm.CALL)

    def _add(self, use: GuardUse, info: FunctionInfo | None, at: cst.CSTNode, form: GuardForm) -> None:
        line, col = self._positions.start(at)
        id_value, id_node = self._checked_id(use, info, at)
        tool = GuardedTool(
            tool_id=id_value.value,
            id_source=id_value.source if id_value.ref is None else IdSource.UNRESOLVED,
            file=self.file,
            line=line,
            col=col,
            module=self.module,
            qualname=None if info is None else info.qualname,
            is_async=False if info is None else info.is_async,
            parameters=None if info is None else self._parameters(info),
            form=form,
            def_line=None if info is None else self._positions.start(info.node)[0],
        )
        if id_value.ref is not None and id_node is not None:
            id_line, id_col = self._positions.start(id_node)
            shown = cst.Module([]).code_for_node(id_node)
            self.pending.append(PendingId(len(self.tools), id_value.ref, shown, id_line, id_col))
        self.tools.append(tool)

    def _checked_id(
        self, use: GuardUse, info: FunctionInfo | None, at: cst.CSTNode
    ) -> tuple[IdValue, cst.BaseExpression | None]:
        """Work out the tool id, reporting why when it cannot be known or would be refused."""
        id_value, id_node = self._id_of(use)
        if id_value.source is IdSource.AUTO:
            if info is not None:
                return IdValue(f"{self.module}.{info.qualname}", IdSource.AUTO), None
            msg = "d2_guard without a tool id wraps a function defined elsewhere, so its id is unknown"
            hint = "pass an explicit tool id: d2_guard('tool.id')(func)"
            self._finding(FindingCode.UNKNOWN_TARGET, msg, at, Severity.WARNING, hint)
            return IdValue(None, IdSource.UNRESOLVED), None
        if id_node is not None and id_value.value == "":
            hint = "d2_guard raises TypeError on an empty id; write a non-empty id"
            self._finding(FindingCode.INVALID_TOOL_ID, "the tool id is empty", id_node, Severity.ERROR, hint)
            return IdValue(None, IdSource.UNRESOLVED), id_node
        if id_node is not None and id_value.source is IdSource.UNRESOLVED:
            msg = f"the tool id {id_value.reason}"
            self._finding(FindingCode.DYNAMIC_TOOL_ID, msg, id_node, Severity.WARNING, FIX_HINT)
        return id_value, id_node

    def _parameters(self, info: FunctionInfo) -> tuple[Parameter, ...] | None:
        """Prefer the signature read by ``ast``: the skeleton blanks parameter lists it does not need."""
        if isinstance(info.node, cst.ClassDef):
            return None  # the signature is __init__'s (or a metaclass's): not worth guessing
        if isinstance(info.node, cst.FunctionDef):
            found = self._signatures.get(self._positions.start(info.node)[0])
            if found is not None:
                return found
        return from_cst(info.node.params)

    def _id_of(self, use: GuardUse) -> tuple[IdValue, cst.BaseExpression | None]:
        """Return the id and the expression it came from (``None`` for an auto id)."""
        if use.call is None:
            return IdValue(None, IdSource.AUTO), None
        arg = _id_argument(use.call)
        if arg is None:
            return IdValue(None, IdSource.AUTO), None
        if isinstance(arg, cst.Arg):
            reason = "is passed through *args/**kwargs, so it is unknown until run time"
            return IdValue(None, IdSource.UNRESOLVED, reason=reason), arg.value
        return self._resolver.string(arg), arg

    def _warn_main(self) -> None:
        for tool in self.tools:
            if tool.id_source is IdSource.AUTO and tool.tool_id is not None:
                name = tool.tool_id.removeprefix(f"{self.module}.")
                msg = (
                    f"auto tool id '{tool.tool_id}' assumes this file is imported as '{self.module}'; "
                    f"run as a script, its id is '__main__.{name}'"
                )
                self.findings.setdefault(
                    (FindingCode.MAIN_MODULE_AUTO_ID.value, tool.line, tool.col),
                    ScanFinding(
                        FindingCode.MAIN_MODULE_AUTO_ID,
                        msg,
                        Severity.WARNING,
                        self.file,
                        tool.line,
                        tool.col,
                        "give the tool an explicit id so it does not depend on how it runs",
                    ),
                )

    def _finding(
        self, code: FindingCode, message: str, node: cst.CSTNode, severity: Severity, hint: str
    ) -> None:
        line, col = self._positions.start(node)
        self.findings.setdefault(
            (code.value, line, col), ScanFinding(code, message, severity, self.file, line, col, hint)
        )


# Decorators that hand the function to a framework's registry: ``@agent.tool_plain``,
# ``@agent.tool``, ``@server.tool(...)``, ``@server.prompt``, ``@server.resource("uri")``, and the
# tool-object factories ``@tool`` (LangChain) and ``@function_tool`` (OpenAI Agents SDK).
_REGISTERING_ATTRIBUTES = frozenset({"tool", "tool_plain", "prompt", "resource"})
_REGISTERING_NAMES = frozenset({"tool", "function_tool"})


def _registers_tool(expr: cst.BaseExpression) -> bool:
    """Whether a decorator looks like a framework's tool registration (read from the source alone)."""
    if isinstance(expr, cst.Call):
        expr = expr.func
    if isinstance(expr, cst.Attribute):
        return expr.attr.value in _REGISTERING_ATTRIBUTES
    return isinstance(expr, cst.Name) and expr.value in _REGISTERING_NAMES


def _first_positional(call: cst.Call) -> cst.BaseExpression | None:
    if call.args and call.args[0].keyword is None and not call.args[0].star:
        return call.args[0].value
    return None


def _id_argument(call: cst.Call) -> cst.BaseExpression | cst.Arg | None:
    """Return the id expression of a guard call, the starred Arg hiding it, or ``None`` (auto)."""
    for arg in call.args:
        if arg.star:
            return arg
        if arg.keyword is None or arg.keyword.value == "tool_id":
            return arg.value
    return None
