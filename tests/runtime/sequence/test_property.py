"""The incremental matcher against a brute-force subsequence check, over random histories and rules."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from d2._core.model import CompiledPolicy
from d2._core.state import RequestLog, RequestState, UserContext
from d2._engine.decide import authorize
from d2._lang.compiler import compile_policy
from d2._lang.seqprogram import SequenceProgram
from d2._lang.source import parse_policy_text
from d2.exceptions import PermissionDeniedError

TOOLS = ["t0", "t1", "t2", "t3", "t4"]
GROUPS = {"g01": ["t0", "t1"], "g23": ["t2", "t3"], "g14": ["t1", "t4"]}
REFS = TOOLS + [f"@{g}" for g in GROUPS]

patterns = st.lists(st.sampled_from(REFS), min_size=1, max_size=4)
histories = st.lists(st.sampled_from(TOOLS), max_size=25)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def members(ref: str) -> set[str]:
    return set(GROUPS[ref[1:]]) if ref.startswith("@") else {ref}


def completes(pattern: Sequence[str], before: Sequence[str], call: str) -> bool:
    """Brute force: is pattern[:-1] a subsequence of ``before`` (by any choice of positions) and call in pattern[-1]?"""
    if call not in members(pattern[-1]):
        return False
    head = pattern[:-1]
    for positions in itertools.combinations(range(len(before)), len(head)):
        if all(before[p] in members(ref) for p, ref in zip(positions, head, strict=True)):
            return True
    return False


def compile_rules(
    rules: list[dict[str, object]],
    *,
    mode: str = "allow",
    more: dict[str, tuple[str, list[dict[str, object]]]] | None = None,
) -> CompiledPolicy:
    entries = [{"role": "r", "permissions": ["*"], "sequence": {"mode": mode, "rules": rules}}]
    for role, (role_mode, role_rules) in (more or {}).items():
        entries.append(
            {"role": role, "permissions": ["*"], "sequence": {"mode": role_mode, "rules": role_rules}}
        )
    data = {"metadata": {"tool_groups": GROUPS}, "policies": entries}
    result = compile_policy(parse_policy_text(json.dumps(data), "prop.json"))
    assert result.policy is not None, [d.render() for d in result.errors]
    return result.policy


@SETTINGS
@given(st.lists(patterns, min_size=1, max_size=5), histories)
def test_completion_matches_brute_force(pats: list[list[str]], history: list[str]) -> None:
    policy = compile_rules([{"deny": p} for p in pats])
    program = policy.sequence
    assert isinstance(program, SequenceProgram)
    log = RequestLog()
    program.sync(log)
    for i, call in enumerate(history):
        got = {rule.index for rule in program.completed_by(log, call)}
        want = {j for j, p in enumerate(pats) if completes(p, history[:i], call)}
        assert got == want, (history[: i + 1], pats)
        log.history.append(call)
        program.record(log, call)
    rebuilt = RequestLog()
    rebuilt.history.extend(log.history)
    program.sync(rebuilt)
    assert rebuilt.progress == log.progress


def run(policy: CompiledPolicy, calls: list[str], roles: frozenset[str] = frozenset({"r"})) -> list[bool]:
    state = RequestState(UserContext("u", roles), RequestLog())
    out = []
    for call in calls:
        try:
            authorize(policy, state, call, dict)
            out.append(True)
        except PermissionDeniedError as exc:
            assert exc.reason == "sequence_violation"
            out.append(False)
    return out


rules_st = st.lists(st.tuples(st.sampled_from(["deny", "allow"]), patterns), min_size=1, max_size=5)


@SETTINGS
@given(rules_st, histories)
def test_allow_mode_decisions_match_the_reference_model(
    rules: list[tuple[str, list[str]]], calls: list[str]
) -> None:
    """Refused iff some deny completes and no allow completes with the same call; refusals are not recorded."""
    policy = compile_rules([{kind: p} for kind, p in rules])
    accepted: list[str] = []
    expected = []
    for call in calls:
        denied = any(completes(p, accepted, call) for kind, p in rules if kind == "deny")
        allowed = any(completes(p, accepted, call) for kind, p in rules if kind == "allow")
        ok = not denied or allowed
        expected.append(ok)
        if ok:
            accepted.append(call)
    if policy.sequence is None:
        assert all(expected)
        return
    assert run(policy, calls) == expected


def graph_permits(allows: list[list[str]], previous: str | None, call: str) -> bool:
    for p in allows:
        if len(p) == 1 and call in members(p[0]):
            return True
        if previous is None:
            if call in members(p[0]):
                return True
            continue
        for a, b in itertools.pairwise(p):
            if previous in members(a) and call in members(b):
                return True
    return False


@SETTINGS
@given(rules_st, histories)
def test_deny_mode_decisions_match_the_reference_model(
    rules: list[tuple[str, list[str]]], calls: list[str]
) -> None:
    """Refused iff a deny completes, or no start/edge/one-element pattern permits the step."""
    policy = compile_rules([{kind: p} for kind, p in rules], mode="deny")
    allows = [p for kind, p in rules if kind == "allow"]
    accepted: list[str] = []
    expected = []
    for call in calls:
        denied = any(completes(p, accepted, call) for kind, p in rules if kind == "deny")
        ok = not denied and graph_permits(allows, accepted[-1] if accepted else None, call)
        expected.append(ok)
        if ok:
            accepted.append(call)
    assert run(policy, calls) == expected


def role_refuses(mode: str, rules: list[tuple[str, list[str]]], accepted: list[str], call: str) -> bool:
    """One role's own verdict, by the reference model of its mode."""
    denied = any(completes(p, accepted, call) for kind, p in rules if kind == "deny")
    if mode == "deny":
        allows = [p for kind, p in rules if kind == "allow"]
        return denied or not graph_permits(allows, accepted[-1] if accepted else None, call)
    return denied and not any(completes(p, accepted, call) for kind, p in rules if kind == "allow")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["allow", "deny"]), rules_st, st.sampled_from(["allow", "deny"]), rules_st, histories)
def test_each_role_of_a_user_decides_on_its_own(
    mode_r: str,
    rules_r: list[tuple[str, list[str]]],
    mode_s: str,
    rules_s: list[tuple[str, list[str]]],
    calls: list[str],
) -> None:
    """A user holding two roles is refused when either role refuses; allows excuse only their own role."""
    policy = compile_rules(
        [{kind: p} for kind, p in rules_r],
        mode=mode_r,
        more={"s": (mode_s, [{kind: p} for kind, p in rules_s])},
    )
    accepted: list[str] = []
    expected = []
    for call in calls:
        ok = not role_refuses(mode_r, rules_r, accepted, call) and not role_refuses(
            mode_s, rules_s, accepted, call
        )
        expected.append(ok)
        if ok:
            accepted.append(call)
    if policy.sequence is None:
        assert all(expected)
        return
    assert run(policy, calls, frozenset({"r", "s"})) == expected


def plain_policy() -> CompiledPolicy:
    result = compile_policy(
        parse_policy_text('{"policies": [{"role": "r", "permissions": ["*"]}]}', "p.json")
    )
    assert result.policy is not None and result.policy.sequence is None
    return result.policy


@SETTINGS
@given(
    st.lists(patterns, min_size=1, max_size=3),
    st.lists(patterns, min_size=1, max_size=3),
    st.lists(st.tuples(st.sampled_from([0, 1, 2]), st.sampled_from(TOOLS)), max_size=25),
)
def test_programs_sharing_a_request_each_decide_over_the_whole_history(
    pats_a: list[list[str]], pats_b: list[list[str]], calls: list[tuple[int, str]]
) -> None:
    # Policy instances share a request: each sequence program stamps the progress as its own and
    # must notice every call another recorded, including calls of a policy with no sequence rules
    # (which stamps nothing). Rules with equal content share progress between programs.
    policies = (
        compile_rules([{"deny": p} for p in pats_a]),
        compile_rules([{"deny": p} for p in pats_b]),
        plain_policy(),
    )
    rules: tuple[list[list[str]], ...] = (pats_a, pats_b, [])
    state = RequestState(UserContext("u", frozenset({"r"})), RequestLog())
    history: list[str] = []
    for which, call in calls:
        want = not any(completes(p, history, call) for p in rules[which])
        try:
            authorize(policies[which], state, call, dict)
            got = True
        except PermissionDeniedError as exc:
            assert exc.reason == "sequence_violation"
            got = False
        assert got == want, (calls, pats_a, pats_b)
        if got:
            history.append(call)
    assert list(state.log.history) == history
    assert sum(1 for key in state.log.progress if key < 0) <= 1  # one stamp: who recorded last
