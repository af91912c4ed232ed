"""Read a function's parameters, in order and with their kinds, as ``inspect.signature`` reports them."""

from __future__ import annotations

import ast

import libcst as cst

from ._model import Parameter, ParamKind

__all__ = ["from_ast", "from_cst"]


def from_cst(params: cst.Parameters) -> tuple[Parameter, ...]:
    """List the parameters of a LibCST parameter list."""
    out = [_cst_param(p, ParamKind.POSITIONAL_ONLY) for p in params.posonly_params]
    out += [_cst_param(p, ParamKind.POSITIONAL_OR_KEYWORD) for p in params.params]
    if isinstance(params.star_arg, cst.Param):
        out.append(_cst_param(params.star_arg, ParamKind.VAR_POSITIONAL))
    out += [_cst_param(p, ParamKind.KEYWORD_ONLY) for p in params.kwonly_params]
    if params.star_kwarg is not None:
        out.append(_cst_param(params.star_kwarg, ParamKind.VAR_KEYWORD))
    return tuple(out)


def from_ast(args: ast.arguments) -> tuple[Parameter, ...]:
    """List the parameters of an ``ast`` argument list (defaults align with the last positionals)."""
    positional = [*args.posonlyargs, *args.args]
    first_default = len(positional) - len(args.defaults)
    out = [
        Parameter(
            a.arg,
            ParamKind.POSITIONAL_ONLY if i < len(args.posonlyargs) else ParamKind.POSITIONAL_OR_KEYWORD,
            i >= first_default,
        )
        for i, a in enumerate(positional)
    ]
    if args.vararg is not None:
        out.append(Parameter(args.vararg.arg, ParamKind.VAR_POSITIONAL))
    out += [
        Parameter(a.arg, ParamKind.KEYWORD_ONLY, d is not None)
        for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    ]
    if args.kwarg is not None:
        out.append(Parameter(args.kwarg.arg, ParamKind.VAR_KEYWORD))
    return tuple(out)


def _cst_param(param: cst.Param, kind: ParamKind) -> Parameter:
    return Parameter(param.name.value, kind, param.default is not None)
