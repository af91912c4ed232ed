"""Result types of a source scan: guarded tools, findings, and the scan as a whole.

Everything here is a frozen, slotted dataclass of plain values, so results cross process boundaries
(the parallel scan pickles them) and can be compared in tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from d2 import Diagnostic, Severity

__all__ = [
    "FindingCode",
    "GuardForm",
    "GuardedTool",
    "IdSource",
    "ParamKind",
    "Parameter",
    "ScanFinding",
    "ScanResult",
]


class IdSource(str, Enum):
    """How the scanner obtained a tool id, so callers can tell written ids from derived ones."""

    EXPLICIT = "explicit"  # a string literal at the guard: @d2_guard("billing.read")
    CONSTANT = "constant"  # a name bound once to a string literal, in this module or an imported one
    AUTO = "auto"  # no id given: the runtime uses f"{func.__module__}.{func.__qualname__}"
    UNRESOLVED = "unresolved"  # the id is computed at run time; a finding says where and why

    def __str__(self) -> str:
        return self.value


class GuardForm(str, Enum):
    """Whether the guard was applied as a decorator or by calling it on a function."""

    DECORATOR = "decorator"  # @d2_guard(...) above a def
    CALL = "call"  # safe = d2_guard("id")(impl)  or  safe = d2_guard(impl)

    def __str__(self) -> str:
        return self.value


class ParamKind(str, Enum):
    """Parameter kinds, named as :class:`inspect.Parameter` names them."""

    POSITIONAL_ONLY = "positional_only"
    POSITIONAL_OR_KEYWORD = "positional_or_keyword"
    VAR_POSITIONAL = "var_positional"
    KEYWORD_ONLY = "keyword_only"
    VAR_KEYWORD = "var_keyword"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Parameter:
    """One parameter of a guarded function, in signature order."""

    name: str
    kind: ParamKind
    has_default: bool = False


class FindingCode(str, Enum):
    """Stable codes of scanner findings; ``D2S`` keeps them apart from policy diagnostics (``D2E``)."""

    SYNTAX_ERROR = "D2S001"
    UNREADABLE_FILE = "D2S002"
    DYNAMIC_TOOL_ID = "D2S003"
    UNRESOLVED_IMPORTED_ID = "D2S004"
    UNKNOWN_TARGET = "D2S005"
    MAIN_MODULE_AUTO_ID = "D2S006"
    INVALID_TOOL_ID = "D2S007"
    FILE_TOO_LARGE = "D2S008"
    GUARD_ABOVE_DESCRIPTOR = "D2S009"
    INTERNAL_ERROR = "D2S010"
    GUARDED_CLASS = "D2S011"
    GUARD_ABOVE_TOOL_DECORATOR = "D2S012"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class ScanFinding:
    """Something the scanner could not see through, at ``file:line:col`` (1-based), with a fix hint.

    Errors mean the file or a guard would fail at run time (or could not be read at all); warnings
    mean the code runs but the scanner cannot know a tool id, so a policy cannot be checked against it.
    """

    code: FindingCode
    message: str
    severity: Severity
    file: str
    line: int
    col: int
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_diagnostic(self) -> Diagnostic:
        """Convert to the shared diagnostic type, so lint reporters format scan findings too."""
        return Diagnostic(
            code=self.code.value,
            message=self.message,
            severity=self.severity,
            file=self.file,
            line=self.line,
            col=self.col,
            hint=self.hint,
        )

    def render(self) -> str:
        """Render as ``file:line:col: CODE message (hint)``, the same shape as policy diagnostics."""
        return self.to_diagnostic().render()

    def __str__(self) -> str:
        return self.render()


@dataclass(frozen=True, slots=True)
class GuardedTool:
    """One function the d2 guard protects, as the runtime will see it.

    ``line``/``col`` (1-based) point at the guard: the ``@`` of the decorator, or the start of the
    ``d2_guard(...)`` call. ``def_line`` is the line of the ``def`` (``None`` when the guarded function
    is defined elsewhere). ``parameters`` is ``None`` when the function's definition is not visible
    (e.g. ``d2_guard("id")(imported_function)``); otherwise it lists every parameter in order,
    including ``self`` for methods, exactly as ``inspect.signature`` on the undecorated function would;
    it is also ``None`` for a guarded class (the runtime guards calls to the class itself).
    """

    tool_id: str | None
    id_source: IdSource
    file: str
    line: int
    col: int
    module: str
    qualname: str | None
    is_async: bool
    parameters: tuple[Parameter, ...] | None
    form: GuardForm = GuardForm.DECORATOR
    def_line: int | None = None

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Names a policy input condition may use: positional-only, regular and keyword-only parameters."""
        if self.parameters is None:
            return ()
        variadic = (ParamKind.VAR_POSITIONAL, ParamKind.VAR_KEYWORD)
        return tuple(p.name for p in self.parameters if p.kind not in variadic)

    @property
    def has_var_positional(self) -> bool:
        return self.parameters is not None and any(
            p.kind is ParamKind.VAR_POSITIONAL for p in self.parameters
        )

    @property
    def has_var_keyword(self) -> bool:
        """True when ``**kwargs`` accepts any keyword, so no condition name can be proven wrong."""
        return self.parameters is not None and any(p.kind is ParamKind.VAR_KEYWORD for p in self.parameters)


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Everything a scan found, sorted by file, line and column so output is stable across runs."""

    tools: tuple[GuardedTool, ...]
    findings: tuple[ScanFinding, ...]
    files_scanned: int = 0

    @property
    def tool_ids(self) -> tuple[str, ...]:
        """Every resolved tool id once, sorted: what ``d2 init`` puts in a starter policy."""
        return tuple(sorted({t.tool_id for t in self.tools if t.tool_id is not None}))

    @property
    def has_errors(self) -> bool:
        return any(f.is_error for f in self.findings)

    def tools_by_id(self) -> dict[str, tuple[GuardedTool, ...]]:
        """Group resolved tools by id; one id may guard several functions."""
        grouped: dict[str, list[GuardedTool]] = {}
        for tool in self.tools:
            if tool.tool_id is not None:
                grouped.setdefault(tool.tool_id, []).append(tool)
        return {tool_id: tuple(tools) for tool_id, tools in sorted(grouped.items())}
