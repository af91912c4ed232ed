"""The package layout is part of the design: no import cycles, layers enforced, public API pinned."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _cycles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    # The root package's __init__ re-exports its children: that is not a cycle of design, so leave it out.
    modules = sorted(m for m in graph.modules if m.startswith(package + "."))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in modules:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if not child.startswith(package + "."):
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


@pytest.mark.parametrize("package", ["d2", "d2tools"])
def test_no_import_cycles(package: str) -> None:
    graph = grimp.build_graph(package)
    assert _cycles(graph, package) == []


def test_cycle_finder_can_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "cyclic_pkg_for_d2_test"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from cyclic_pkg_for_d2_test import b\n")
    (pkg / "b.py").write_text("from cyclic_pkg_for_d2_test import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("cyclic_pkg_for_d2_test")
    assert _cycles(graph, "cyclic_pkg_for_d2_test") == [
        ["cyclic_pkg_for_d2_test.a", "cyclic_pkg_for_d2_test.b"]
    ]


@pytest.mark.skipif(shutil.which("lint-imports") is None, reason="import-linter is in the dev extra")
def test_import_contracts_hold() -> None:
    proc = subprocess.run(["lint-imports"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]


PUBLIC_API = sorted(
    [
        "ASGIMiddleware",
        "BundleExpiredError",
        "CompileResult",
        "ConfigurationError",
        "D2Error",
        "D2NoContextError",
        "D2PlanLimitError",
        "DecisionEvent",
        "Diagnostic",
        "InvalidSignatureError",
        "Location",
        "MissingPolicyError",
        "PermissionDeniedError",
        "PolicyManager",
        "PolicyTooLargeError",
        "Reason",
        "Severity",
        "TooManyToolsError",
        "UserContext",
        "add_decision_sink",
        "clear_context",
        "clear_context_async",
        "clear_user_context",
        "compile_policy",
        "configure_rbac_async",
        "configure_rbac_sync",
        "d2",
        "d2_guard",
        "flush_events",
        "get_facts",
        "get_policy_manager",
        "get_user_context",
        "has_any_fact",
        "has_fact",
        "headers_extractor",
        "load_policy_file",
        "record_fact",
        "record_facts",
        "remove_decision_sink",
        "restrict",
        "run_as",
        "set_user",
        "set_user_context",
        "shutdown_all_rbac",
        "shutdown_rbac",
        "threads",
        "warn_if_context_set",
    ]
)


def test_public_api_keeps_every_name_it_had() -> None:
    import d2

    missing = [name for name in PUBLIC_API if name not in d2.__all__]
    assert missing == []
    for name in d2.__all__:
        assert getattr(d2, name) is not None
    assert list(d2.__all__) == sorted(d2.__all__)


def test_import_d2_stays_light() -> None:
    code = (
        "import sys, d2\n"
        "heavy = {'typer', 'rich', 'textual', 'libcst', 'jsonschema', 'httpx', 'mcp', 'redis', 'starlette',"
        " 'd2tools'}\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
