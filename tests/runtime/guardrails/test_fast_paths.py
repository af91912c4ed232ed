"""The per-call fast paths decide exactly as the general code they shortcut.

Input conditions try the passing path first (one unrolled closure) and decide anything else again with
``check_all``; output rules apply the keys of a row with one flat closure where the trie allows it.
Each property runs both on the same inputs and requires the same answer, the same refusal and the
same sharing of unchanged parts.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from d2._lang.output_actions import REDACTED
from d2._lang.paths import PathNode

INPUT_SETTINGS = settings(max_examples=150, deadline=None)
SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class Sly(str):
    """A str subclass: never checked as it is (the snapshot makes it a plain str)."""


# -- input conditions: check (fast) against check_all (general) ---------------------------------------

OPERATORS = [
    "{type: int, min: 1, max: 10}",
    "{type: float, min: 0.5, max: 2}",
    "{min: 1, max: 10}",
    "{gt: 0, lt: 5}",
    "{in: [a, b, 1]}",
    "{matches: '^[a-z]+$'}",
    "{type: string, maxLength: 2}",
    "{type: [int, null], min: 1}",
    "{required: true, type: bool}",
    "{not_in: [x]}",
    "{eq: 1}",
    # Operators the generated passing path writes inline for a pinned exact class.
    "{type: string, minLength: 1, maxLength: 2}",
    "{startsWith: a, endsWith: c}",
    "{eq: abc}",
    "{type: int, eq: 5}",
    "{type: int, eq: true}",
    "{type: int, in: [1, 5, a]}",
    "{type: int, min: 0.5, lt: 6}",
    "{type: int, gt: 0, max: 5.5}",
    "{type: float, max: 1.5}",
    "{type: number, min: 0.5, lt: 6}",
    "{type: number, in: [1, 2.0]}",
    "{type: bool, in: [true]}",
    "{type: int}",
    "{type: string}",
    "{in: [a, b], minLength: 1}",
    "{in: [a, b], min: 1}",
    "{matches: 'a\\d|b'}",
    "{matches: ab}",
    "{type: string, max_bytes: 2}",
    "{}",
]
SAMPLES = [None, True, False, 0, 1, 5, 6, 11, 0.5, 1.5, 2.0, 5.0, float("nan")]
SAMPLES += ["a", "b", "c", "x", "ab", "abc", "ac", "a1", ""]
VALUES = st.one_of(
    st.sampled_from(SAMPLES),
    st.builds(Sly, st.sampled_from(["a", "b", "abc"])),
    st.lists(st.integers(0, 3), max_size=2),
    st.just(object()),
)


_COMPILED: dict[str, Any] = {}


def _input_rules(kit: Any, body: str) -> Any:
    """Compile each rule set once: the property varies the values, and compiling is the slow part."""
    if body not in _COMPILED:
        _COMPILED[body] = kit.input_rules(body)
    return _COMPILED[body]


def _params(count: int) -> list[str]:
    return [f"p{i}" for i in range(count)]


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5])
def test_the_passing_path_decides_as_check_all(kit: Any, count: int) -> None:
    # One policy per parameter count; hypothesis then varies the operators' inputs.
    @INPUT_SETTINGS
    @given(
        ops=st.lists(st.sampled_from(OPERATORS), min_size=count, max_size=count),
        values=st.lists(st.one_of(VALUES, st.just("<missing>")), min_size=count, max_size=count),
    )
    def run(ops: list[str], values: list[Any]) -> None:
        rules = _input_rules(kit, "\n".join(f"{p}: {op}" for p, op in zip(_params(count), ops, strict=True)))
        args = {
            p: v
            for p, v in zip(_params(count), values, strict=True)
            if not (v == "<missing>" and type(v) is str)
        }
        fast_args, slow_args = dict(args), dict(args)
        fast = rules.check(fast_args, kit.state)
        slow = rules.check_all(slow_args, kit.state)
        assert fast == slow
        # Snapshots replace the same arguments on both paths: equal values of the same exact types.
        assert fast_args == slow_args
        assert [type(v) for v in fast_args.values()] == [type(v) for v in slow_args.values()]

    run()


@pytest.mark.parametrize("op", OPERATORS)
def test_each_operator_decides_every_sample_value_as_check_all(kit: Any, op: str) -> None:
    rules = _input_rules(kit, f"p0: {op}")
    for value in [*SAMPLES, Sly("a"), [1], {"a": 1}, object()]:
        fast_args, slow_args = {"p0": value}, {"p0": value}
        assert rules.check(fast_args, kit.state) == rules.check_all(slow_args, kit.state), value
    assert rules.check({}, kit.state) == rules.check_all({}, kit.state)


def test_the_passing_path_allows_plain_values_and_refuses_with_the_failed_operator(kit: Any) -> None:
    rules = kit.input_rules(
        """
        table: {in: [analytics, dashboards]}
        row_limit: {type: int, min: 1, max: 1000}
        format: {matches: "^[a-z_]+$"}
        """
    )
    ok = {"table": "analytics", "row_limit": 500, "format": "weekly_summary"}
    assert rules.check(ok, kit.state) is None
    for name, bad, op in (
        ("table", "sales", "in"),
        ("row_limit", 1001, "type"),  # the fused range names its first operator, as check_all does
        ("row_limit", True, "type"),
        ("format", "Weekly", "matches"),
    ):
        violation = rules.check({**ok, name: bad}, kit.state)
        assert violation is not None and violation.target == name
        assert violation == rules.check_all({**ok, name: bad}, kit.state)
        assert violation.operator in (op, "min", "max")
    assert rules.check({**ok, "table": Sly("analytics")}, kit.state) is None  # checked as a plain str
    missing = rules.check({"table": "analytics", "row_limit": 5}, kit.state)
    assert missing is None  # an optional parameter left out


def test_a_long_text_still_goes_to_re2(kit: Any) -> None:
    rules = kit.input_rules("s: {matches: '^[a-z]+$'}")
    assert rules.check({"s": "a" * 10_000}, kit.state) is None
    violation = rules.check({"s": "a" * 10_000 + "!"}, kit.state)
    assert violation is not None and violation.operator == "matches"


# -- output rules: the flat row closure against the general walk --------------------------------------

RULES = [
    "k: {action: filter}",
    "k: {action: redact}",
    "a: {action: redact}",
    "a: {action: filter}",
    "b: {max: 3, action: redact}",
    "b: {action: truncate, maxLength: 1}",
    "a: {matches: 'x+', action: redact}",
    "b: {eq: 9, action: deny}",
    "k: {type: int}",
    "a.k: {action: filter}",
    "'**.k': {action: filter}",
    "k: {required: true}",
    "'*': {action: redact}",
]
KEYS = st.sampled_from(["k", "a", "b", "c"])
LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-2, 12), st.sampled_from(["", "x", "xyz", "[REDACTED]"])
)
ROWS = st.recursive(
    LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)


def _unflattened(node: PathNode | None, seen: set[int] | None = None) -> None:
    """Switch the flat closures off below ``node`` so the general walk runs."""
    seen = set() if seen is None else seen
    if node is None or id(node) in seen:
        return
    seen.add(id(node))
    node.flat = None
    for child in (*node.keys.values(), node.star, node.deep):
        _unflattened(child, seen)


def _shape(a: Any, b: Any) -> bool:
    """Same value, and the same parts shared with the input (identity), all the way down."""
    if type(a) is not type(b) or a != b:
        return False
    if isinstance(a, dict):
        return all(_shape(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return all(_shape(x, y) for x, y in zip(a, b, strict=True))
    return True


@SETTINGS
@given(rules=st.lists(st.sampled_from(RULES), min_size=1, max_size=4, unique=True), value=ROWS)
def test_flat_rows_decide_as_the_general_walk(kit: Any, rules: list[str], value: Any) -> None:
    keys = [r.split(":")[0] for r in rules]
    if len(set(keys)) != len(keys):
        rules = list({k: r for k, r in zip(keys, rules, strict=True)}.values())
    body = "\n".join(rules)
    fast = kit.output_rules(body)
    slow = kit.output_rules(body)
    _unflattened(slow._sanitize)
    _unflattened(slow._validate)
    before = copy.deepcopy(value)
    fast_out, fast_violation = fast.apply(value, kit.state)
    slow_out, slow_violation = slow.apply(value, kit.state)
    assert value == before, "the tool's value is never mutated"
    assert fast_violation == slow_violation
    assert _shape(fast_out, slow_out)
    # What the walk did not change is the caller's own object, on both paths.
    if isinstance(value, list) and isinstance(fast_out, list) and len(value) == len(fast_out):
        for old, f, s in zip(value, fast_out, slow_out, strict=True):
            assert (f is old) == (s is old)


def test_the_usual_rows_take_the_flat_path(kit: Any) -> None:
    rules = kit.output_rules("ssn: {action: filter}\nemail: {action: redact}")
    assert rules._sanitize.flat is not None
    rows = [
        {"id": 1, "email": "a@x", "ssn": "1"},
        {"id": 2},
        {"id": 3, "email": REDACTED},  # already the very replacement: nothing changes
        {"id": 4, "ssn": "2"},
        OrderedDict(email="b@x"),
    ]
    out, violation = rules.apply(rows, kit.state)
    assert violation is None
    assert out == [
        {"id": 1, "email": "[REDACTED]"},
        {"id": 2},
        {"id": 3, "email": "[REDACTED]"},
        {"id": 4},
        {"email": "[REDACTED]"},
    ]
    assert out[1] is rows[1] and out[2] is rows[2], "rows nothing changed are shared"
    assert rows[0] == {"id": 1, "email": "a@x", "ssn": "1"}
    unchanged = [{"id": 1}, {"id": 2, "email": REDACTED}]
    assert rules.apply(unchanged, kit.state)[0] is unchanged, "a list nothing changed comes back as is"


def test_a_refusal_in_a_flat_row_names_the_row_and_the_field(kit: Any) -> None:
    rules = kit.output_rules("secret: {action: filter}\nlevel: {max: 3, action: deny}")
    assert rules._sanitize.flat is not None
    _, violation = rules.apply([{"level": 1}, {"level": 2, "secret": "s"}, {"level": 7}], kit.state)
    assert violation is not None and violation.target == "[2].level" and violation.operator == "max"


def test_opaque_rows_still_refuse(kit: Any) -> None:
    rules = kit.output_rules("ssn: {action: filter}\nemail: {action: redact}")
    _, violation = rules.apply([{"ssn": "1"}, iter([1])], kit.state)
    assert violation is not None and violation.operator == "path" and violation.target == "[1]"


def test_required_keys_and_nested_paths_keep_the_general_walk(kit: Any) -> None:
    assert kit.output_rules("ssn: {action: filter}\nid: {required: true}")._validate.flat is None
    assert kit.output_rules("a.b: {action: filter}")._sanitize.flat is None
    assert kit.output_rules("'**.b': {action: filter}")._sanitize.flat is None


def test_a_key_with_a_rule_and_paths_below_it_keeps_the_general_walk(kit: Any) -> None:
    rules = kit.output_rules("a: {matches: 'x+', action: redact}\na.k: {action: filter}")
    assert rules._sanitize.flat is None
    out, violation = rules.apply([{"a": {"k": 1, "j": "y"}}, {"a": {"k": "x"}}], kit.state)
    assert violation is None
    assert out == [{"a": {"j": "y"}}, {"a": "[REDACTED]"}]


def test_rows_with_a_drop_a_replacement_and_a_conditional_rule_run_all_three(kit: Any) -> None:
    rules = kit.output_rules("ssn: {action: filter}\nemail: {action: redact}\nlevel: {max: 3, action: deny}")
    assert rules._sanitize.flat is not None
    out, violation = rules.apply([{"ssn": 1, "email": "e", "level": 2}], kit.state)
    assert violation is None and out == [{"email": "[REDACTED]", "level": 2}]
    _, violation = rules.apply([{"ssn": 1, "email": "e", "level": 2}, {"level": 7}], kit.state)
    assert violation is not None and violation.target == "[1].level"


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_a_str_subclass_is_snapshotted_on_the_passing_path(kit: Any, count: int) -> None:
    rules = _input_rules(kit, "\n".join(f"{p}: {{in: [a, b]}}" for p in _params(count)))
    for at in range(count):
        args = {p: Sly("a") if i == at else "b" for i, p in enumerate(_params(count))}
        assert rules.check(args, kit.state) is None
        assert all(type(v) is str for v in args.values()), "the tool receives the plain str that was checked"


def test_a_trie_plans_its_flat_rows_when_sealed_and_forgets_the_plan_on_insert() -> None:
    from d2._lang.paths import Replace, remove_always, visit

    trie = PathNode()
    trie.insert(("ssn",), remove_always)
    assert trie.flat is None
    assert trie.seal() is trie and trie.flat is not None
    trie.insert(("email",), Replace("gone"))
    assert trie.flat is None, "a rule added after sealing must not be skipped by an old plan"
    row = {"ssn": 1, "email": "e", "id": 2}
    assert visit([row], trie, None) == [{"email": "gone", "id": 2}]
    trie.seal()
    assert visit([row], trie, None) == [{"email": "gone", "id": 2}]
    assert row == {"ssn": 1, "email": "e", "id": 2}


@pytest.mark.parametrize(
    ("body", "value"),
    [
        ("'*': {type: list}\nk: {type: int}", [[[{"k": "x"}]]]),
        ("'*': {type: list}\nk: {type: int}", [[[[{"k": 1}], {"k": "y"}]]]),
        ("'*': {max: 3, action: redact}\nk: {action: filter}", [[[{"k": 1}, 2]], 1]),
        ("'*': {type: list}\nk: {type: int}", [[OrderedDict(k=1)]]),
    ],
)
def test_lists_nested_in_lists_decide_as_the_general_walk(kit: Any, body: str, value: Any) -> None:
    fast = kit.output_rules(body)
    slow = kit.output_rules(body)
    _unflattened(slow._sanitize)
    _unflattened(slow._validate)
    assert fast.apply(value, kit.state) == slow.apply(value, kit.state)


@pytest.mark.parametrize(
    ("rule", "passing", "failing"),
    [
        ("{type: int, min: 1, max: 10}", [1, 10, 5], [0, 11, True, 1.5, "5", None]),
        ("{type: float, min: 1, max: 10}", [1, 10, 1.0, 10.0, 5.5], [0.99, 10.01, True, "5"]),
        ("{min: 1, max: 10}", [1, 10, 1.0, 10.0, 5.5], [0, 0.99, 10.01, False, "5", float("nan")]),
        ("{min: 1, max: 10, gt: 5}", [6, 10, 5.5], [5, 3, 11]),
        ("{min: 1, max: 10, lt: 5}", [1, 4, 4.5], [5, 8, 0]),
        ("{type: int, min: 1}", [1, 10**9], [0, -3, True]),
        ("{max: 10}", [10, -5, 2.5], [11, 10.5, True]),
    ],
)
def test_fused_ranges_keep_every_bound(kit: Any, rule: str, passing: list[Any], failing: list[Any]) -> None:
    rules = _input_rules(kit, f"n: {rule}")
    for value in passing:
        assert rules.check({"n": value}, kit.state) is None, value
    for value in failing:
        violation = rules.check({"n": value}, kit.state)
        assert violation is not None and violation == rules.check_all({"n": value}, kit.state), value


def test_many_parameters_refuse_when_every_value_fails_and_snapshot_when_every_value_is_subclassed(
    kit: Any,
) -> None:
    rules = _input_rules(kit, "\n".join(f"{p}: {{in: [a, b]}}" for p in _params(4)))
    violation = rules.check({p: "z" for p in _params(4)}, kit.state)
    assert violation is not None and violation.target == "p0"
    args: dict[str, Any] = {p: Sly("a") for p in _params(4)}
    assert rules.check(args, kit.state) is None
    assert all(type(v) is str for v in args.values())


# -- the generated passing path: its text, its inputs, and what it shares --------------------------------


def test_the_passing_path_holds_no_policy_text_in_its_source(kit: Any) -> None:
    from d2._lang import conditions

    rules = kit.input_rules(
        """
        evil_name: {in: ["x'); import os; ('"], matches: "^[a-z_']+$", startsWith: "'\\n"}
        """
    )
    assert rules.check({"evil_name": "x'); import os; ('"}, kit.state) is not None  # fails startsWith
    for source in conditions._FACTORIES:
        assert "evil" not in source and "import" not in source and "'" not in source


def test_a_mapping_other_than_a_dict_is_read_with_get(kit: Any) -> None:
    from collections import defaultdict

    rules = _input_rules(kit, "p0: {required: true, type: string}")
    args: defaultdict[str, Any] = defaultdict(lambda: "filled")
    violation = rules.check(args, kit.state)
    assert violation is not None and violation.operator == "required"
    assert "p0" not in args, "a missing parameter must not be filled in by the mapping's default"


def test_grants_of_one_shape_share_one_generated_function(kit: Any) -> None:
    from d2._lang import conditions

    body = "\n".join(
        f"      - tool: t{i}\n        conditions:\n          input:\n"
        f"            amount: {{type: int, max: {i + 1}}}\n            region: {{in: [r{i}, eu]}}"
        for i in range(50)
    )
    policy = kit.policy_from(f"policies:\n  - role: r\n    permissions:\n{body}\n")
    checks = [policy.grants[f"t{i}"]["r"][0].input for i in range(50)]
    before = len(conditions._FACTORIES)
    for i, rules in enumerate(checks):  # the first call generates each grant's passing path
        assert rules.check({"amount": i + 1, "region": "eu"}, kit.state) is None
    assert len(conditions._FACTORIES) - before <= 1
    assert checks[7].check({"amount": 8, "region": "r7"}, kit.state) is None
    assert checks[7].check({"amount": 9, "region": "r7"}, kit.state) is not None  # its own bound
    assert checks[7].check({"amount": 8, "region": "r8"}, kit.state) is not None  # its own members


def test_attribute_operands_are_read_on_the_passing_path(kit: Any) -> None:
    from d2._core.model import MissingAttribute
    from d2._core.state import RequestLog, RequestState, UserContext

    rules = kit.input_rules("region: {type: string, in: {$attr: user.regions}, maxLength: 5}")
    user = UserContext("u", frozenset({"r"}), {"regions": ["eu", "us"]})
    state = RequestState(user, RequestLog())
    assert rules.check({"region": "eu"}, state) is None
    violation = rules.check({"region": "apac"}, state)
    assert violation is not None and violation.operator == "in"
    with pytest.raises(MissingAttribute):
        rules.check({"region": "eu"}, kit.state)  # no such attribute: refused by the engine, never a pass
