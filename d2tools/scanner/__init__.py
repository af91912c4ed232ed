"""Find the functions a project guards with d2, statically, as the runtime will name them.

``d2 init``, ``d2 init --check``, ``d2 lint --code`` and ``d2 test --code`` call :func:`scan`. The
scanner parses with LibCST and decides what each decorator refers to from scope metadata, so only
``d2_guard``/``d2`` imported from the ``d2`` package count, under any alias. Tool ids come from
string literals, from names bound once to a string (in the module or imported from another scanned
module), or, without an id, from ``module.qualname`` exactly as the runtime computes it. Anything
it cannot know is a :class:`ScanFinding` with ``file:line:col``, never a guess.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    # libcst 1.0.x imports mypy_extensions.TypedDict, which newer mypy_extensions deprecate at import.
    warnings.filterwarnings("ignore", "mypy_extensions.TypedDict is deprecated", DeprecationWarning)
    import libcst  # noqa: F401

from ._model import (
    FindingCode,
    GuardedTool,
    GuardForm,
    IdSource,
    Parameter,
    ParamKind,
    ScanFinding,
    ScanResult,
)
from ._modname import module_name_for
from ._scan import PARALLEL_THRESHOLD, ProgressCallback, scan

__all__ = [
    "PARALLEL_THRESHOLD",
    "FindingCode",
    "GuardForm",
    "GuardedTool",
    "IdSource",
    "ParamKind",
    "Parameter",
    "ProgressCallback",
    "ScanFinding",
    "ScanResult",
    "module_name_for",
    "scan",
]
