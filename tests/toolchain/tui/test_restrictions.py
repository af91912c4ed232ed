"""Restriction examples in the policy view, and the deferred lint that keeps start-up fast.

Every example the view can show is compiled by the runtime's own restriction compiler from the YAML
text shown; these tests check that on every example policy of the repository, and that the Python
text says the same as the YAML.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static, Tree

import d2
from d2._toolkit import compile_restriction
from d2.exceptions import ConfigurationError
from d2tools.inspect import build_view
from d2tools.lint import lint_file
from d2tools.tui.loaded import finish_lint, load_path_policy
from d2tools.tui.policy.index import Entry, build_index
from d2tools.tui.policy.restrictions import (
    _candidates,
    check_example,
    derived_examples,
    scenario_examples,
)
from d2tools.tui.policy.view import PolicyPane

from .conftest import FIXTURES, NOW, POLICY, SIZE

ROOT = Path(__file__).resolve().parents[3]
POLICIES = sorted(
    {POLICY, *ROOT.glob("examples/*/policy.yaml"), *ROOT.glob("examples/*/*/policy.yaml")}, key=str
)
LINT_FIXTURES = sorted((ROOT / "tests" / "fixtures" / "lint" / "codes").glob("*.yaml"))


async def _until(pilot: Any, done: Callable[[], bool], timeout: float = 20.0) -> None:
    """Let the app run until ``done()`` (the worker starts after the first frame, then runs a while)."""
    for _ in range(int(timeout / 0.05)):
        if done():
            return
        await pilot.pause(0.05)
    raise AssertionError("the background work did not finish")


def _section(index: Any, name: str) -> tuple[Entry, ...]:
    return next(s for s in index.sections if s.name == name).entries


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_derived_candidate_compiles_and_reads_back(path: Path) -> None:
    loaded = load_path_policy(path, now=NOW)
    assert loaded.doc is not None and loaded.policy is not None
    view = build_view(loaded.doc)
    shown = 0
    for role in view.roles:
        for example in _candidates(role, view, loaded.policy, loaded.file):
            checked = check_example(example, loaded.policy)
            assert checked.error is None, f"{role.name}: {example.title}: {checked.error}"
            # The runtime's compiler, once more, on the fragment itself: the YAML changed nothing.
            compile_restriction(dict(example.fragment), loaded.policy, name="again")
            assert _python_keywords(checked.python) == dict(example.fragment)
        shown += len(derived_examples(role, view, loaded.policy, loaded.file))
    assert shown > 0


def _python_keywords(text: str) -> dict[str, Any]:
    """The keywords of the ``d2.restrict(...)`` call in ``text``, evaluated as literals."""
    call = ast.parse(text).body[0].items[0].context_expr  # type: ignore[attr-defined]
    assert ast.unparse(call.func) == "d2.restrict"
    found = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg != "name"}
    if call.args:
        found.update(ast.literal_eval(call.args[0]))
    return found


def test_derived_examples_narrow_what_the_role_holds() -> None:
    loaded = load_path_policy(POLICY, now=NOW)
    assert loaded.doc is not None
    view = build_view(loaded.doc)
    analyst = next(r for r in view.roles if r.name == "analyst")
    examples = {c.example.title: c for c in derived_examples(analyst, view, loaded.policy, loaded.file)}
    assert set(examples) == {
        "only database.read_users, email.send",
        "no @egress",
        "database.read_users: limit max 10",
        "never database.read_users then @egress",
    }
    tighter = examples["database.read_users: limit max 10"]
    assert "      limit: {max: 10}\n" in tighter.yaml
    assert tighter.example.line == 27  # the grant it narrows
    assert examples["no @egress"].effect[:2] == (
        "role analyst: 1 of 3 tools stay callable in the block",
        "refused with reason restriction: email.send, http.post",
    )
    # The example does what it says with the real guard: inside the block the sink is refused.
    d2.configure_rbac_sync(POLICY)
    post = d2.d2_guard("http.post")(lambda url: "sent")
    with d2.set_user_context("bo", ["analyst"]):
        assert post("https://x.test") == "sent"
        with d2.restrict(examples["no @egress"].example.fragment, name="no-egress"):
            with pytest.raises(d2.PermissionDeniedError) as refused:
                post("https://x.test")
    assert refused.value.reason == "restriction"


def test_an_example_that_does_not_compile_is_dropped_or_flagged() -> None:
    loaded = load_path_policy(POLICY, now=NOW)
    from d2tools.tui.policy.restrictions import RestrictionExample

    bad = RestrictionExample("every tool", {"tools": ["*"]}, "", "policy", None, "p.yaml", 3)
    checked = check_example(bad, loaded.policy)
    assert checked.error is not None and "'*' is not allowed" in checked.error
    with pytest.raises(ConfigurationError):  # the same verdict as the runtime's
        compile_restriction({"tools": ["*"]}, loaded.policy, name="x")


def test_scenario_restrict_steps_next_to_the_policy_are_listed() -> None:
    found, notes = scenario_examples(str(POLICY))
    assert notes == []
    assert [(Path(e.file).name, e.line, e.role) for e in found] == [("restrict.d2test.yaml", 12, "support")]
    assert found[0].fragment == {
        "tools": ["@billing"],
        "conditions": {"billing.refund": {"input": {"amount": {"max": 50}}}},
    }
    assert found[0].lines is not None and found[0].lines[11].strip() == "- restrict:"


def _policy_with_examples(tmp_path: Path) -> Path:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "metadata:\n"
        "  x-restrictions:\n"
        "    read-only:\n"
        "      description: Reading only, for a summary request.\n"
        "      tools: [files.read]\n"
        "    everything:\n"
        '      tools: ["*"]\n'
        "policies:\n"
        "  - role: agent\n"
        "    permissions: [files.read, files.write, files.delete]\n",
        encoding="utf-8",
    )
    (tmp_path / "other.d2test.yaml").write_text(  # tests another policy: not listed
        "policy: elsewhere.yaml\ncases: []\n", encoding="utf-8"
    )
    return policy


def test_policy_x_restrictions_are_listed_and_checked(tmp_path: Path) -> None:
    index = build_index(load_path_policy(_policy_with_examples(tmp_path), now=NOW))
    entries = _section(index, "restrictions")
    written = entries[0]
    assert written.label.endswith("(2 written, 1 invalid)")
    good, bad = written.children
    assert (good.label, good.line, bad.label) == ("read-only", 3, "✗ everything")
    assert good.detail[1] == "Reading only, for a summary request."
    assert "role" not in " ".join(good.detail)  # a policy example names no role
    assert bad.payload.error is not None and "'*' is not allowed" in bad.payload.error
    assert [e.label for e in entries[1:]] == ["agent: narrow a request"]


async def test_restrictions_section_in_the_tree(make_app: Callable[..., Any]) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        tree = app.query_one("#policy-tree", Tree)
        section = next(n for n in tree.root.children if str(n.label).startswith("restrictions"))
        labels = [str(n.label) for n in section.children]
        assert labels == []  # collapsed: nothing derived until opened
        tree.move_cursor(section)
        await pilot.press("enter")
        labels = [str(n.label) for n in section.children]
        assert labels[0].startswith("tests/fixtures/tui/scenarios/restrict.d2test.yaml  (1 written)")
        assert labels[1:] == [
            "admin: narrow a request",
            "support: narrow a request",
            "analyst: narrow a request",
        ]
        analyst = section.children[3]
        assert analyst.data is not None and analyst.data.make is not None  # not built yet
        tree.move_cursor(analyst)
        await pilot.press("enter", "down", "down", "down")
        await pilot.pause()
        assert tree.cursor_node is not None
        assert str(tree.cursor_node.label) == "database.read_users: limit max 10"
        detail = str(app.query_one("#policy-detail", Static).render())
        assert "✓ compiled by the runtime's restriction compiler" in detail
        assert "limit: {max: 10}" in detail and "with d2.restrict(" in detail
        assert "role analyst: 3 of 3 tools stay callable" in detail
        assert "▶ 27 │" in str(app.query_one("#policy-source", Static).render())
        # A scenario's step shows the scenario file, at the step.
        scenario = section.children[0]
        scenario.expand()
        await pilot.pause()
        tree.move_cursor(scenario.children[0])
        await pilot.pause()
        source = str(app.query_one("#policy-source", Static).render())
        assert source.startswith(str(FIXTURES.relative_to(ROOT) / "scenarios" / "restrict.d2test.yaml"))
        assert "▶ 12 │       - restrict:" in source


async def test_filter_finds_restriction_examples(make_app: Callable[..., Any]) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(PolicyPane)
        pane.set_filter("restrict")
        await pilot.pause()
        tree = app.query_one("#policy-tree", Tree)
        section = next(n for n in tree.root.children if str(n.label).startswith("restrictions"))
        assert len(section.children) == 4 and section.is_expanded


# -- deferred lint and index (large policies) ------------------------------------------------------------
@pytest.mark.parametrize("path", [POLICY, *LINT_FIXTURES], ids=lambda p: p.name)
def test_deferred_lint_equals_d2_lint(path: Path) -> None:
    early = load_path_policy(path, now=NOW, lint=False)
    assert finish_lint(early).diagnostics == lint_file(path, now=NOW).diagnostics
    assert finish_lint(early).linted and finish_lint(early).policy is early.policy


async def test_large_policy_lints_and_indexes_after_the_first_frame(
    make_app: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import d2tools.tui.app as tui_app

    monkeypatch.setattr(tui_app, "BACKGROUND_BYTES", 0)  # treat the fixture as a large policy
    app = make_app()
    assert not app.session.policy.linted  # the app, not the session, lints
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(PolicyPane)
        await _until(pilot, lambda: pane.ready and app.session.policy.linted)  # Ready reached the app
        assert app.session.policy.diagnostics == lint_file(POLICY, now=NOW).diagnostics
        tree = app.query_one("#policy-tree", Tree)
        names = [str(n.label).split()[0] for n in tree.root.children]
        assert names == ["roles", "tools", "groups", "sequences", "data", "restrictions", "diagnostics"]
        banner = str(app.query_one("#banner", Static).render())
        assert "1 lint findings" in banner and "linting" not in banner


async def test_the_first_frame_says_linting(
    make_app: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import d2tools.tui.app as tui_app
    import d2tools.tui.policy.view as view

    monkeypatch.setattr(tui_app, "BACKGROUND_BYTES", 0)
    monkeypatch.setattr(view.PolicyPane, "_prepare", lambda self: None)  # the worker never finishes
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        pane = app.query_one(PolicyPane)
        assert not pane.ready
        tree = app.query_one("#policy-tree", Tree)
        assert [str(n.label) for n in tree.root.children] == [f"linting and indexing {POLICY}…"]
        assert "linting…" in str(app.query_one("#banner", Static).render())
        pane.set_filter("billing")  # typing before the index is ready does not lose the placeholder
        await pilot.press("c", "down", "enter")
        assert len(tree.root.children) == 1


async def test_a_failing_background_index_says_so(
    make_app: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import d2tools.tui.app as tui_app
    import d2tools.tui.policy.view as view

    def broken(loaded: Any) -> Any:
        raise ValueError("boom")

    monkeypatch.setattr(tui_app, "BACKGROUND_BYTES", 0)
    monkeypatch.setattr(view, "build_index", broken)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        tree = app.query_one("#policy-tree", Tree)
        await _until(pilot, lambda: str(tree.root.children[0].label).startswith("indexing failed"))
        assert [str(n.label) for n in tree.root.children] == ["indexing failed: ValueError: boom"]
        assert not app.query_one(PolicyPane).ready
