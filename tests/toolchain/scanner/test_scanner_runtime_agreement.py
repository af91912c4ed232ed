"""The scanner's ids equal what the runtime computes: import the fixture for real and compare.

A stand-in ``d2`` module (defined here, injected into ``sys.modules``) records what a decorator
with the runtime's semantics sees: ``f"{func.__module__}.{func.__qualname__}"`` when no id is
given, and the real signature of each guarded function.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from d2tools.scanner import IdSource, Parameter, ParamKind, scan

IMPORTED = ["shop", "shop.api", "shop.dynamic", "shop.sub.deep", "shop.lookalike", "shop.impostors", "tool"]
KINDS = {
    inspect.Parameter.POSITIONAL_ONLY: ParamKind.POSITIONAL_ONLY,
    inspect.Parameter.POSITIONAL_OR_KEYWORD: ParamKind.POSITIONAL_OR_KEYWORD,
    inspect.Parameter.VAR_POSITIONAL: ParamKind.VAR_POSITIONAL,
    inspect.Parameter.KEYWORD_ONLY: ParamKind.KEYWORD_ONLY,
    inspect.Parameter.VAR_KEYWORD: ParamKind.VAR_KEYWORD,
}

Seen = tuple[str, str, str, tuple[Parameter, ...]]  # module, qualname, runtime id, parameters


def _stand_in_d2(seen: list[Seen]) -> types.ModuleType:
    """A fake ``d2`` whose guard records ids the way the runtime derives them."""

    def record(func: Callable[..., Any], tool_id: str | None) -> Callable[..., Any]:
        params = tuple(
            Parameter(p.name, KINDS[p.kind], p.default is not inspect.Parameter.empty)
            for p in inspect.signature(func).parameters.values()
        )
        seen.append(
            (func.__module__, func.__qualname__, tool_id or f"{func.__module__}.{func.__qualname__}", params)
        )
        return func

    def d2_guard(tool_id: Any = None, /, **options: Any) -> Any:
        if callable(tool_id):
            return record(tool_id, None)
        return lambda func: record(func, tool_id)

    module = types.ModuleType("d2")
    module.d2_guard = d2_guard  # type: ignore[attr-defined]
    module.d2 = d2_guard  # type: ignore[attr-defined]
    return module


@pytest.fixture
def imported(shop: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Seen]]:
    seen: list[Seen] = []
    monkeypatch.setitem(sys.modules, "d2", _stand_in_d2(seen))
    monkeypatch.syspath_prepend(str(shop))
    try:
        modules = {name: importlib.import_module(name) for name in IMPORTED}
        handler_and_wrapper = modules["shop.api"].make_handlers()  # decorates the nested functions
        handler_and_wrapper[1]()
        modules["shop.dynamic"].configure("configured.at.runtime")
        modules["shop.impostors"].build()
        yield seen
    finally:
        for name in [m for m in sys.modules if m == "tool" or m == "shop" or m.startswith("shop.")]:
            del sys.modules[name]


def test_scanner_ids_and_signatures_match_the_runtime(shop: Path, imported: list[Seen]) -> None:
    result = scan([shop])
    static = sorted(
        (t.module, t.qualname or "", t.tool_id or "", t.parameters or ())
        for t in result.tools
        if t.module in IMPORTED and t.id_source is not IdSource.UNRESOLVED
    )
    runtime = sorted(
        s
        for s in imported
        if not any(
            t.module == s[0] and t.qualname == s[1] and t.id_source is IdSource.UNRESOLVED
            for t in result.tools
        )
    )
    assert static == runtime
    assert len(static) >= 20  # the comparison covered the fixture, not an empty set


def test_every_runtime_guard_is_found_by_the_scanner(shop: Path, imported: list[Seen]) -> None:
    result = scan([shop])
    found = {(t.module, t.qualname) for t in result.tools}
    assert {(s[0], s[1]) for s in imported} <= found
    unresolved = [t for t in result.tools if t.module in IMPORTED and t.id_source is IdSource.UNRESOLVED]
    assert {(t.module, t.qualname) for t in unresolved} <= {(s[0], s[1]) for s in imported}
