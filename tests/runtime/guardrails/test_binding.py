"""The argument binder input conditions read from: exactly inspect's binding, faster, **kwargs visible."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from d2._runtime.binding import compile_binder

P = inspect.Parameter
NAMES = ["a", "b", "c", "d", "e"]


@st.composite
def signatures(draw: st.DrawFn) -> inspect.Signature:
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=5))
    kinds = sorted(
        draw(st.lists(st.sampled_from([P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY]),
                      min_size=len(names), max_size=len(names)))
    )  # fmt: skip
    params: list[inspect.Parameter] = []
    seen_default = False
    for name, kind in zip(names, kinds, strict=True):
        has_default = draw(st.booleans()) or (seen_default and kind is not P.KEYWORD_ONLY)
        seen_default |= has_default and kind is not P.KEYWORD_ONLY
        params.append(P(name, kind, default=draw(st.integers(0, 9)) if has_default else P.empty))
    if draw(st.booleans()):
        index = sum(1 for p in params if p.kind is not P.KEYWORD_ONLY)
        params.insert(index, P("args", P.VAR_POSITIONAL))
    if draw(st.booleans()):
        params.append(P("kwargs", P.VAR_KEYWORD))
    return inspect.Signature(params)


def _expected(sig: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError:
        return TypeError
    bound.apply_defaults()
    out = dict(bound.arguments)
    for name, value in out.get("kwargs", {}).items():
        out.setdefault(name, value)
    return out


@settings(max_examples=800, deadline=None)
@given(
    sig=signatures(),
    args=st.lists(st.integers(10, 99), max_size=6).map(tuple),
    kwargs=st.dictionaries(
        st.sampled_from([*NAMES, "x", "args", "kwargs"]), st.integers(100, 999), max_size=4
    ),
)
def test_binder_agrees_with_inspect(
    sig: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    bind = compile_binder(sig)
    expected = _expected(sig, args, kwargs)
    if expected is TypeError:
        with pytest.raises(TypeError):
            bind(args, kwargs)
    else:
        assert bind(args, kwargs) == expected


def test_extra_keyword_arguments_are_visible_by_name() -> None:
    def tool(query: str, **options: Any) -> None: ...

    bind = compile_binder(inspect.signature(tool))
    assert bind(("q",), {"limit": 5}) == {"query": "q", "options": {"limit": 5}, "limit": 5}


def test_a_keywords_only_signature_binds_without_inspect_and_copies_the_keywords() -> None:
    # ``def call(**arguments)`` is how the MCP proxy and the framework adapters hand a tool's JSON
    # arguments to the guard: bound per call, so it has its own path; the result is inspect's.
    def call(**arguments: Any) -> None: ...

    sig = inspect.signature(call)
    bind = compile_binder(sig)
    kwargs = {"uri": "crm://kb", "arguments": 1}
    bound = bind((), kwargs)
    assert bound == {"arguments": {"uri": "crm://kb", "arguments": 1}, "uri": "crm://kb"}
    assert bound["arguments"] is not kwargs  # a copy: the condition's view cannot change the call
    assert bind((), {}) == {"arguments": {}}
    with pytest.raises(TypeError):
        bind((1,), {})


def test_defaults_are_applied() -> None:
    def tool(table: str, limit: int = 10, *, fmt: str = "csv") -> None: ...

    bind = compile_binder(inspect.signature(tool))
    assert bind(("t",), {}) == {"table": "t", "limit": 10, "fmt": "csv"}
    assert bind((), {"table": "t", "fmt": "json"}) == {"table": "t", "limit": 10, "fmt": "json"}
    with pytest.raises(TypeError, match="table"):
        bind((), {})
    with pytest.raises(TypeError):
        bind(("t", 1, 2), {})
    with pytest.raises(TypeError):
        bind(("t",), {"table": "again"})


@pytest.mark.parametrize("arity", range(7))
def test_a_call_passing_every_parameter_by_position_gets_a_fresh_dict(arity: int) -> None:
    names = NAMES[:arity] + ["f"] * (arity == 6)
    sig = inspect.Signature([P(n, P.POSITIONAL_OR_KEYWORD, default=0) for n in names])
    bind = compile_binder(sig)
    values = tuple(range(10, 10 + arity))
    first = bind(values, {})
    assert first == dict(zip(names, values, strict=True))
    first["x"] = "changed"  # the guard and the snapshots write into the bound arguments
    assert bind(values, {}) == dict(zip(names, values, strict=True))
    assert bind(values[:-1], {}) == _expected(sig, values[:-1], {})
    with pytest.raises(TypeError):
        bind((*values, 99), {})
