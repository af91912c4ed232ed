"""Mutation testing of the decision core: change one operator at a time, see whether a test notices.

A mutant that no test kills marks a behaviour no test pins down: either a missing test, or an
equivalent change (list it with why). The tree you work in is never touched: the repository's
``d2/``, ``tests/`` and project files are copied to a temporary directory, and each mutant is written
there, tested with pytest (stop at the first failure), and undone.

Mutations (one per mutant, at one AST node): comparison flips (``==``/``!=``, ``<``/``<=``,
``>``/``>=``, ``is``/``is not``, ``in``/``not in``), ``and``/``or``, dropping a ``not``,
``True``/``False``, integer constants ``n`` -> ``n + 1``, and ``return X`` -> ``return None`` in
functions that return something.

Run: ``python bench/mutation.py d2/_lang/paths.py --function visit --tests tests/runtime/hardening``.
``--lines A-B`` limits mutants to a line range (e.g. the lines you changed); ``--max N`` caps the count.
Prints every mutant's outcome and a summary of the survivors; exits 1 when any survived.
"""

from __future__ import annotations

import argparse
import ast
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPY = ("d2", "tests", "schemas", "examples", "docs", "pyproject.toml", "README.md", "SECURITY.md")
_FLIPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE,
    ast.GtE: ast.Gt, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Mutant:
    """One change: where, what it was, what it becomes, and the mutated module text."""

    line: int
    col: int
    description: str
    source: str


class _Mutator(ast.NodeTransformer):
    """Apply the ``target``-th possible mutation (counting in walk order); count them all."""

    def __init__(self, target: int, lines: range | None, functions: set[str] | None) -> None:
        self.target = target
        self.lines = lines
        self.functions = functions
        self.seen = 0
        self.done: tuple[int, int, str] | None = None
        self._stack: list[str] = []

    def _eligible(self, node: ast.AST) -> bool:
        line = getattr(node, "lineno", 0)
        if self.lines is not None and line not in self.lines:
            return False
        return self.functions is None or bool(self.functions.intersection(self._stack))

    def _hit(self, node: ast.AST, what: str) -> bool:
        if not self._eligible(node):
            return False
        hit = self.seen == self.target
        self.seen += 1
        if hit:
            self.done = (getattr(node, "lineno", 0), getattr(node, "col_offset", 0), what)
        return hit

    def _in_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        self._stack.append(node.name)
        try:
            self.generic_visit(node)
        finally:
            self._stack.pop()
        return node

    visit_FunctionDef = _in_function
    visit_AsyncFunctionDef = _in_function

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        for i, op in enumerate(node.ops):
            flip = _FLIPS.get(type(op))
            if flip is not None and self._hit(node, f"{type(op).__name__} -> {flip.__name__}"):
                node.ops[i] = flip()
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        if self._hit(node, f"{type(node.op).__name__} -> {type(other).__name__}"):
            node.op = other
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and self._hit(node, "drop 'not'"):
            return node.operand
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, bool):
            if self._hit(node, f"{node.value} -> {not node.value}"):
                return ast.copy_location(ast.Constant(not node.value), node)
        elif isinstance(node.value, int) and self._hit(node, f"{node.value} -> {node.value + 1}"):
            return ast.copy_location(ast.Constant(node.value + 1), node)
        return node

    def visit_Return(self, node: ast.Return) -> ast.AST:
        self.generic_visit(node)
        if node.value is not None and not _is_none(node.value) and self._hit(node, "return None"):
            node.value = ast.Constant(None)
        return node


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def mutants(text: str, lines: range | None, functions: set[str] | None) -> Iterator[Mutant]:
    """Yield every single-change mutant of a module, in source order."""
    target = 0
    while True:
        tree = ast.parse(text)
        mutator = _Mutator(target, lines, functions)
        tree = mutator.visit(tree)
        if mutator.done is None:
            return
        ast.fix_missing_locations(tree)
        line, col, what = mutator.done
        # Skip docstrings and annotations: ast.unparse keeps behaviour, not formatting.
        yield Mutant(line, col, what, ast.unparse(tree))
        target += 1


def _copy_tree(dest: Path) -> None:
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif src.exists():
            shutil.copy2(src, dest / name)


def _run_tests(workdir: Path, tests: list[str], timeout: float) -> str:
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return "killed (timeout)"
    if done.returncode == 0:
        return "survived"
    if done.returncode in (1, 3):  # tests failed, or a crash while collecting/running them
        return "killed"
    return f"error (pytest exit {done.returncode})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("module", help="path of the module to mutate, relative to the repository root")
    parser.add_argument("--tests", nargs="+", default=["tests/runtime"], help="test paths to run per mutant")
    parser.add_argument("--function", action="append", help="mutate only inside these functions")
    parser.add_argument("--lines", help="mutate only lines A-B")
    parser.add_argument("--max", type=int, default=0, help="stop after this many mutants (0: all)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant test run")
    args = parser.parse_args(argv)

    lines = None
    if args.lines:
        first, _, last = args.lines.partition("-")
        lines = range(int(first), int(last or first) + 1)
    functions = set(args.function) if args.function else None
    module = Path(args.module)
    original = (ROOT / module).read_text(encoding="utf-8")
    survivors: list[Mutant] = []
    counts: dict[str, int] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="d2-mutation-") as tmp:
        work = Path(tmp)
        _copy_tree(work)
        target = work / module
        baseline = _run_tests(work, args.tests, args.timeout)
        if baseline != "survived":
            print(f"the unmutated tests do not pass in the copy ({baseline}); fix that first")
            return 2
        for n, mutant in enumerate(mutants(original, lines, functions), 1):
            if args.max and n > args.max:
                break
            target.write_text(mutant.source, encoding="utf-8")
            outcome = _run_tests(work, args.tests, args.timeout)
            target.write_text(original, encoding="utf-8")
            counts[outcome] = counts.get(outcome, 0) + 1
            print(f"{module}:{mutant.line}:{mutant.col + 1}: {mutant.description}: {outcome}", flush=True)
            if outcome == "survived":
                survivors.append(mutant)
    total = sum(counts.values())
    elapsed = time.perf_counter() - started
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    print(f"\n{total} mutants of {module} in {elapsed:.0f} s ({summary})")
    for mutant in survivors:
        print(f"  survived: {module}:{mutant.line}:{mutant.col + 1}: {mutant.description}")
    return 1 if survivors else 0


if __name__ == "__main__":
    raise SystemExit(main())
