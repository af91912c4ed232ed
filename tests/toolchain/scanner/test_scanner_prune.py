"""The fast path (skeleton of the file) must give exactly what analysing the whole file gives."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import libcst as cst
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from d2tools.scanner._file import FileJob, FileScan, _decode, scan_source
from d2tools.scanner._prune import d2_aliases, skeleton

PROJECTS = Path(__file__).resolve().parents[2] / "fixtures" / "projects"

JOB = FileJob(path="mod.py", file="mod.py", module="pkg.mod", is_package=False)


def _both(source: str | bytes) -> tuple[FileScan, FileScan]:
    data = source.encode() if isinstance(source, str) else source
    return scan_source(data, JOB, prune=True), scan_source(data, JOB, prune=False)


def _same(source: str | bytes) -> FileScan:
    data = source.encode() if isinstance(source, str) else source
    _assert_skeleton_parses(data)
    pruned, whole = _both(data)
    assert pruned.tools == whole.tools
    assert pruned.findings == whole.findings
    assert pruned.pending == whole.pending
    assert (pruned.constants, pruned.imports) == (whole.constants, whole.imports)
    return pruned


def test_fixture_files_agree() -> None:
    files = sorted(PROJECTS.rglob("*.py"))
    assert len(files) > 10
    for path in files:
        _same(path.read_bytes())


def _assert_skeleton_parses(data: bytes) -> None:
    """The comparison only means something if the fast path did not fall back to the whole file."""
    try:
        text = _decode(data)
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return
    aliases = d2_aliases(tree)
    if aliases is not None:
        cst.parse_module(skeleton(text, tree, aliases).text)


def test_skeleton_drops_irrelevant_bodies_but_keeps_lines_mapped() -> None:
    source = "from d2 import d2_guard\n\ndef plain(a: int) -> int:\n    x = a\n    return x\n\n@d2_guard()\ndef g(): ...\n"
    tree = ast.parse(source)
    skel = skeleton(source, tree, d2_aliases(tree) or frozenset())
    assert "return x" not in skel.text and "@d2_guard()" in skel.text
    assert skel.line(skel.text.splitlines().index("@d2_guard()") + 1) == 7
    assert skel.signatures[3][0].name == "a"


# --- generated modules -------------------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "query", "limit", "café", "x1"])
ANNOTATIONS = st.sampled_from(
    ["", ": int", ": dict[str, list[int]]", ': "Forward"', ": (\n        int\n    )"]
)
DEFAULTS = st.sampled_from(["", " = 1", " = (\n        'multi'\n    )", " = None"])
GUARDS = st.sampled_from(
    [
        "",
        "@d2_guard\n",
        "@d2_guard()\n",
        '@d2_guard("lit.id")\n',
        "@guard(CONST)\n",
        "@d2.d2_guard(CONST)\n",
        '@authz.d2("x" "y")\n',
        "@d2_guard(f'{CONST}')\n",
        "@other\n@d2_guard()\n",
    ]
)
BODIES = st.sampled_from(
    [
        "return 1\n",
        '"""Doc.\n\n    With a blank line."""\n    x = [v for v in range(3)]\n\n    # comment\n    return x\n',
        "def inner(q):\n        return q\n    return inner\n",
        "@d2_guard()\n    def inner(q):\n        return q\n    return inner\n",
        "h = guard('in.body')(lambda k: k)\n    return h\n",
        "global CONST\n    CONST = 'changed'\n",
        "if a:\n        pass\n    else:\n        return {\n            'k': 1,\n        }\n",
    ]
)
SPACING = st.sampled_from(["\n", "\n\n", "\n# between\n\n", "\n\n\n"])


@st.composite
def functions(draw: st.DrawFn) -> str:
    """Write one (maybe guarded) function at column 0; bodies are indented by four spaces."""
    names = draw(st.lists(NAMES, max_size=3, unique=True))
    params = [f"{name}{draw(ANNOTATIONS)}{draw(DEFAULTS)}" for name in names]
    kw = draw(st.sampled_from(["def", "async def"]))
    ret = draw(st.sampled_from(["", " -> int", " -> dict[str, int]"]))
    joined = _defaults_last(params, draw(st.sampled_from([", ", ",\n    # note (\n    ", ",\\\n "])))
    if joined and draw(st.booleans()):
        joined += draw(st.sampled_from([", /", ",", ", / # )\n", ",\n"]))
    return f"{draw(GUARDS)}{kw} {draw(NAMES)}({joined}){ret}:\n    {draw(BODIES)}"


def _defaults_last(params: list[str], separator: str) -> str:
    """Give every parameter after the first defaulted one a default, so the signature is valid."""
    out, seen_default = [], False
    for part in params:
        seen_default = seen_default or "=" in part
        out.append(part if "=" in part or not seen_default else f"{part} = 0")
    return separator.join(out)


HEAD = """import d2
import d2 as authz
from d2 import d2_guard
from d2 import d2_guard as guard
other = lambda f: f
CONST = 'const.id'
DOC = '''

keep these lines

'''
"""


@st.composite
def modules(draw: st.DrawFn) -> str:
    parts = [HEAD]
    for index in range(draw(st.integers(1, 5))):
        if draw(st.booleans()):
            parts.append(draw(functions()))
        else:
            methods = [textwrap.indent(draw(functions()), "    ") for _ in range(draw(st.integers(1, 2)))]
            parts.append(f"class C{index}:\n    'Doc.'\n" + draw(SPACING).join(methods))
        parts.append(draw(SPACING))
    parts.append("def impl(z): ...\nsafe = d2_guard('wrapped')(impl)\n")
    return "".join(parts)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules(), st.sampled_from(["\n", "\r\n"]))
def test_generated_modules_agree(source: str, newline: str) -> None:
    compile(source, "generated", "exec")  # the generator writes valid Python
    _same(source.replace("\n", newline))


def test_positions_survive_crlf_tabs_and_non_ascii(tmp_path: Path) -> None:
    source = (
        "from d2 import d2_guard\r\n"
        "\r\n"
        "def naïve(café: str = 'é', *, ünï: int = 1) -> 'Ünïcode':\r\n"
        "\treturn café * 2\r\n"
        "\r\n"
        "MÉTA = 'meta'; @d2_guard(f'{MÉTA}')\r\n"
        "def dynamic(): ...\r\n"
    )
    # The last decorator is not valid after a semicolon; keep a valid variant for positions.
    source = source.replace("MÉTA = 'meta'; @d2_guard(f'{MÉTA}')", "MÉTA = 'meta'\r\n@d2_guard(f'{MÉTA}')")
    scan = _same(source)
    (tool,) = scan.tools
    (finding,) = scan.findings
    assert (tool.line, tool.col, tool.def_line) == (7, 1, 8)
    assert (finding.line, finding.col) == (7, 11)


def test_latin1_source_with_coding_cookie_and_bom() -> None:
    latin = "# -*- coding: latin-1 -*-\nfrom d2 import d2_guard\n\n@d2_guard('caf\u00e9')\ndef f(): ...\n"
    (tool,) = _same(latin.encode("latin-1")).tools
    assert tool.tool_id == "café"
    bom = b"\xef\xbb\xbffrom d2 import d2_guard\n@d2_guard('bom')\ndef g(): ...\n"
    (tool,) = _same(bom).tools
    assert (tool.tool_id, tool.line, tool.col) == ("bom", 2, 1)
