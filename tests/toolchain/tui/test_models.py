"""The TUI's data layer without a screen: index, source rendering, decide, diff, bundles, coverage, feed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from d2tools.tui.bundles.diff import diff_docs
from d2tools.tui.bundles.read import is_bundle_text, read_bundle_file, read_state_bundles
from d2tools.tui.coverage.report import load_coverage
from d2tools.tui.explain.decide import ExplainRequest, decide, split_location
from d2tools.tui.explain.view import FormError, parse_form
from d2tools.tui.live.feed import DecisionFeed
from d2tools.tui.live.follow import LogFollower
from d2tools.tui.loaded import load_path_policy, load_text_policy
from d2tools.tui.policy.index import build_index
from d2tools.tui.policy.source import render_source
from d2tools.tui.session import TuiOptions, open_session

from .conftest import FIXTURES, NOW, POLICY, record


def _loaded():  # type: ignore[no-untyped-def]
    return load_path_policy(POLICY, now=NOW)


def test_index_expands_groups_and_names_their_origin() -> None:
    sections = {s.name: s for s in build_index(_loaded()).sections}
    support = next(e for e in sections["roles"].entries if e.key == "support")
    refund = next(c for c in support.children if c.key == "billing.refund")
    assert refund.label.startswith("billing.refund  ← @billing")
    assert "via group @billing defined at line 5" in refund.detail
    assert refund.line == 19
    tools = {e.key: e for e in sections["tools"].entries}
    assert [c.key for c in tools["http.post"].children] == ["analyst"]
    assert any("DENY" in c.label for c in tools["users.delete"].children)
    assert [e.label for e in sections["sequences"].entries] == [
        "analyst: deny [database.read_users → http.post]"
    ]
    assert {e.label for e in sections["data flow"].entries} == {
        "database.read_users adds PII",
        "label PII blocks @egress",
    }
    assert [e.key.split()[0] for e in sections["diagnostics"].entries] == ["d2w004"]


def test_filter_keeps_matching_children_only() -> None:
    index = build_index(_loaded())
    roles = {s.name: s for s in index.filtered("refund")}["roles"].entries
    assert [r.key for r in roles] == ["support"]
    assert [c.key for c in roles[0].children] == ["billing.refund"]
    assert {s.name: s for s in index.filtered("no-such-thing")}["roles"].entries == ()


def test_source_window_marks_the_line_and_inlines_diagnostics() -> None:
    loaded = _loaded()
    text = render_source(
        loaded.lines, 21, file=loaded.file, diagnostics=loaded.diagnostics, uncovered={22}
    ).plain
    assert "▶ 21 │       - weather.lookup" in text
    assert "^ D2W004 role 'support' is granted 'weather.lookup' again" in text
    assert " ○22 │" in text


@pytest.mark.parametrize(
    ("roles", "tool", "args", "prior", "allowed", "reason", "line"),
    [
        (("support",), "billing.refund", {}, (), True, None, 19),
        (("support",), "users.delete", {}, (), False, "explicit_deny", 22),
        (("analyst",), "database.read_users", {"limit": 500}, (), False, "input_validation", 30),
        (("analyst",), "http.post", {}, ("database.read_users",), False, "sequence_violation", 36),
        (("support",), "shell.run", {}, (), False, "unknown_tool", None),
    ],
)
def test_decide_uses_the_engine(roles, tool, args, prior, allowed, reason, line) -> None:  # type: ignore[no-untyped-def]
    policy = _loaded().policy
    assert policy is not None
    request = ExplainRequest("u", roles, tool, args, {}, prior=prior)
    decision = decide(policy, request)
    assert (decision.allowed, decision.reason) == (allowed, reason)
    assert decision.line == line


def test_decide_applies_output_rules_side_by_side() -> None:
    policy = _loaded().policy
    assert policy is not None
    rows = [{"name": "Ada", "email": "a@x.test", "ssn": "1"}]
    request = ExplainRequest(
        "bo", ("analyst",), "database.read_users", {"limit": 5}, {}, has_return=True, returned=rows
    )
    decision = decide(policy, request)
    assert decision.allowed and decision.stage == "output"
    assert decision.sanitized == [{"name": "Ada", "email": "[REDACTED]"}]
    assert decision.line == 27
    assert decision.output_rules and split_location(decision.output_rules[0])[1] == 31


def test_form_errors_say_which_field_and_how() -> None:
    with pytest.raises(FormError, match=r"args: not JSON"):
        parse_form({"tool": "x", "args": "{nope"})
    with pytest.raises(FormError, match=r"attributes: must be a JSON object"):
        parse_form({"tool": "x", "attributes": "[1]"})
    with pytest.raises(FormError, match=r"tool: name the tool"):
        parse_form({"tool": " "})
    req = parse_form({"tool": "t", "roles": "a, b", "prior": "x → y", "returned": "[1]"})
    assert req.roles == ("a", "b") and req.prior == ("x", "y") and req.has_return and req.returned == [1]


def test_bundle_verification_reports_why() -> None:
    good = read_bundle_file(FIXTURES / "bundle-v2.jws", FIXTURES / "jwks.json").info
    assert good.verified and (good.app, good.version) == ("shop", 2) and good.why.startswith("verified")
    wrong = read_bundle_file(FIXTURES / "bundle-v2.jws", FIXTURES / "wrong-jwks.json").info
    assert not wrong.verified and "signature does not verify" in wrong.why
    unkeyed = read_bundle_file(FIXTURES / "bundle-v2.jws").info
    assert not unkeyed.verified and "--jwks" in unkeyed.why
    assert is_bundle_text((FIXTURES / "bundle-v1.jws").read_text())
    assert not is_bundle_text(POLICY.read_text())


def test_tampered_bundle_is_not_verified(tmp_path: Path) -> None:
    head, body, sig = (FIXTURES / "bundle-v2.jws").read_text().strip().split(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    path = tmp_path / "tampered.jws"
    path.write_text(f"{head}.{flipped}.{sig}")
    assert not read_bundle_file(path, FIXTURES / "jwks.json").info.verified


def test_state_bundles_are_reverified_with_their_saved_keys() -> None:
    found = read_state_bundles(FIXTURES / "bundles-state.json")
    assert sorted((r.info.version, r.info.verified, r.info.etag) for r in found) == [
        (1, True, '"v1"'),
        (2, True, '"v2"'),
    ]


def test_diff_reports_grants_and_sequences_per_role() -> None:
    v1 = load_text_policy(read_bundle_file(FIXTURES / "bundle-v1.jws").policy_text or "", "v1")
    assert v1.doc is not None and _loaded().doc is not None
    diff = diff_docs(v1.doc, _loaded().doc)  # type: ignore[arg-type]
    assert diff.lines()[2:] == [
        "~ role analyst",
        "    + email.send",
        "    + http.post",
        "    + sequence deny [database.read_users -> http.post]",
    ]
    assert diff_docs(_loaded().doc, _loaded().doc).empty  # type: ignore[arg-type]


def test_diff_sees_condition_changes(tmp_path: Path) -> None:
    changed = tmp_path / "p.yaml"
    changed.write_text(POLICY.read_text().replace("max: 100}", "max: 1000}"))
    after = load_path_policy(changed)
    assert after.doc is not None
    diff = diff_docs(_loaded().doc, after.doc)  # type: ignore[arg-type]
    assert len(diff.roles) == 1 and diff.roles[0].conditions[0].startswith("database.read_users: conditions")


def test_coverage_report_marks_unexercised_rules() -> None:
    cov = load_coverage(FIXTURES / "coverage.json", str(POLICY))
    assert 0 < cov.percent < 100
    assert 22 in cov.lines and 19 not in cov.lines


def test_coverage_errors_say_how_to_fix(tmp_path: Path) -> None:
    bad = tmp_path / "r.json"
    bad.write_text(json.dumps({"summary": {}}))
    with pytest.raises(Exception, match="--coverage --format json"):
        load_coverage(bad, str(POLICY))


def test_feed_counts_every_decision_and_bounds_rows() -> None:
    feed = DecisionFeed(keep=100, pending=50)
    feed.ingest(record(i, allowed=i % 4 != 0, tool=f"t{i % 3}") for i in range(1000))
    snap = feed.snapshot()
    assert snap.total == 1000 and snap.refused == 250
    assert sum(a + r for a, r in snap.per_tool.values()) == 1000
    assert len(feed.rows) == 100 and len(feed.drain()) == 50 and feed.drain() == []
    assert snap.refusals_per_second == (1,) * 60  # 4 decisions a second, one refused; the last minute only


def test_feed_reads_lines_and_the_streams_drop_notice() -> None:
    feed = DecisionFeed()
    lines = [
        json.dumps({"tool_id": "a", "allowed": False, "reason": "rbac", "roles": ["x"], "timestamp": 1.0}),
        "not json",
        '{"dropped": 7}',
        "",
    ]
    assert feed.ingest_lines(lines) == 1
    snap = feed.snapshot()
    assert (snap.total, snap.malformed, snap.lost) == (1, 1, 7)


def _line(i: int) -> str:
    return json.dumps({"tool_id": f"t{i}", "allowed": True, "roles": [], "timestamp": float(i)}) + "\n"


def test_follower_survives_rotation_and_truncation(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    log.write_text(_line(0) + _line(1))
    feed = DecisionFeed()
    follower = LogFollower(log, feed)
    assert follower.poll(first=True) == 2
    with log.open("a") as fh:
        fh.write(_line(2) + '{"tool_id": "t3", "allo')  # a partial line waits for its end
    assert follower.poll() == 1
    with log.open("a") as fh:
        fh.write('wed": true}\n' + _line(4))
    shutil.move(log, tmp_path / "decisions.jsonl.1")  # rotate: the old file still gets a late line
    with (tmp_path / "decisions.jsonl.1").open("a") as fh:
        fh.write(_line(5))
    log.write_text(_line(6))
    assert follower.poll() == 4 and follower.rotations == 1
    log.write_text("")  # truncated in place (logrotate copytruncate), then written again
    assert follower.poll() == 0
    log.write_text(_line(7))
    assert follower.poll() == 1
    follower.stop()
    assert feed.snapshot().total == 8
    assert [r.tool_id for r in feed.rows] == [f"t{i}" for i in range(8)]


def test_session_opens_a_bundle_file_and_diffs_against_another() -> None:
    session = open_session(
        TuiOptions(
            path=FIXTURES / "bundle-v2.jws",
            jwks=FIXTURES / "jwks.json",
            diff=FIXTURES / "bundle-v1.jws",
            now=NOW,
        )
    )
    assert session.policy.file == "bundle:shop@v2" and session.policy.policy is not None
    assert session.policy.bundle is not None and session.policy.bundle.verified
    assert session.diff is not None and not session.diff.empty


def test_session_state_opens_the_newest_verified_bundle() -> None:
    session = open_session(TuiOptions(state=True, state_path=FIXTURES / "bundles-state.json", now=NOW))
    assert session.policy.file == "bundle:shop@v2"
    assert [r.info.version for r, _ in session.bundles] == [2, 1]


def test_session_without_policy_says_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    session = open_session(TuiOptions())
    assert session.policy.policy is None
    assert session.notes and "policy" in session.notes[0].lower()
