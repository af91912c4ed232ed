"""Request values (the user's own request) and the ``in_request`` operator."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import d2

from .conftest import Agent, errors, grant

INSTRUCTION = (
    "Please pay the December rent to DE89 3704 0044 0532 0130 00 and email the receipt to "
    "bob@corp.example. Ｒｅｆ: ＩＮＶ-7"  # noqa: RUF001 (full-width on purpose)
)


def _call(agent: Agent, value: Any, *, instruction: str = INSTRUCTION, **values: Any) -> Any:
    with d2.set_user_context("u", ["r"]):
        d2.set_request_values(instruction=instruction, **values)
        return agent.verdict(value)


@pytest.mark.parametrize(
    ("operand", "good", "bad"),
    [
        (
            "instruction",
            ["bob@corp.example", "December rent", "corp"],
            ["bob@corp.ex", "BOB@corp.example", "ent"],
        ),
        (
            "{names: instruction, ignore_case: true}",
            ["BOB@CORP.EXAMPLE", "december RENT"],
            ["bob@corp.examples", "Eve"],
        ),
        (
            "{names: instruction, ignore_spaces: true}",
            ["DE89370400440532013000", "DE89 3704 0044 0532 0130 00", "DE89 37040044"],
            ["DE893704004405320130001", "E89370400440532013000", "de89370400440532013000"],
        ),
        (
            "{names: instruction, ignore_spaces: true, ignore_case: true}",
            ["de89370400440532013000"],
            ["de8937040044053201300"],
        ),
        ("{names: instruction, unicode: true}", ["Ref: INV-7", "INV-7"], ["inv-7", "INV-77"]),
        ("instruction", ["Ｒｅｆ: ＩＮＶ-7"], ["INV-7"]),  # noqa: RUF001
    ],
)
def test_in_request_finds_whole_words_of_the_instruction(
    agent: Agent, operand: str, good: list[str], bad: list[str]
) -> None:
    agent.load_input(f"x: {{in_request: {operand}}}")
    for value in good:
        assert _call(agent, value) is None, value
    for value in bad:
        exc = _call(agent, value)
        assert exc is not None and exc.reason == "input_validation", value


def test_in_request_on_a_set_of_ids(agent: Agent) -> None:
    agent.load_input("x: {in_request: ids}")
    for value, ok in (("inv-7", True), (42, True), ("42", True), ("inv", False), (True, False), (4.2, False)):
        assert (_call(agent, value, ids=["inv-7", 42]) is None) is ok, value
    agent.load_input("x: {in_request: {names: ids, ignore_case: true}}")
    assert _call(agent, "INV-7", ids=["inv-7"]) is None


def test_several_names_mean_any_of_them(agent: Agent) -> None:
    agent.load_input("x: {in_request: [instruction, ids]}")
    assert _call(agent, "bob@corp.example", ids=["acct-9"]) is None
    assert _call(agent, "acct-9", ids=["acct-9"]) is None
    assert _call(agent, "acct-1", ids=["acct-9"]) is not None


def test_each_item_must_come_from_the_request(agent: Agent) -> None:
    agent.load_input(
        "x: {type: list, minLength: 1, each: {in_request: {names: instruction, ignore_case: true}}}"
    )
    assert _call(agent, ["bob@corp.example"]) is None
    exc = _call(agent, ["bob@corp.example", "eve@evil.example"])
    assert exc is not None and "item [1] failed 'in_request': must occur in request.instruction" in exc.detail


@pytest.mark.parametrize("value", [None, 1.5, ["bob@corp.example"], {"a": "bob@corp.example"}, b"bob", ""])
def test_values_that_are_not_text_fail(agent: Agent, value: Any) -> None:
    agent.load_input("x: {in_request: instruction}")
    exc = _call(agent, value)
    assert exc is not None and exc.reason == "input_validation"


def test_a_missing_request_value_refuses(agent: Agent) -> None:
    agent.load_input("x: {in_request: [instruction, ids]}")
    with d2.set_user_context("u", ["r"]):
        exc = agent.verdict("bob@corp.example")
        assert exc is not None and exc.reason == "missing_attribute"
        assert "d2.set_request_values(instruction=...)" in str(exc)
        d2.set_request_values(instruction=INSTRUCTION)
        exc = agent.verdict("bob@corp.example")  # `ids` is still missing: refuse, do not guess
    assert exc is not None and exc.reason == "missing_attribute" and "request.ids" in str(exc)


def test_values_are_set_once_per_request() -> None:
    with pytest.raises(d2.D2NoContextError):
        d2.set_request_values(instruction="x")
    with d2.set_user_context("u", ["r"]):
        d2.set_request_values(instruction="pay bob", ids=["a", 7])
        assert dict(d2.get_request_values()) == {"instruction": "pay bob", "ids": frozenset({"a", "7"})}
        with pytest.raises(d2.ConfigurationError, match="already set"):
            d2.set_request_values(instruction="pay eve")
        assert d2.get_request_values()["instruction"] == "pay bob"
    with d2.set_user_context("u", ["r"]):
        assert dict(d2.get_request_values()) == {}  # a new request starts empty
    assert dict(d2.get_request_values()) == {}


@pytest.mark.parametrize(
    "values",
    [{}, {"instruction": 5}, {"ids": [1.5]}, {"ids": {"a": 1}}, {"ids": b"ab"}, {"ids": [None]}],
)
def test_request_value_types(values: dict[str, Any]) -> None:
    with d2.set_user_context("u", ["r"]), pytest.raises(TypeError):
        d2.set_request_values(**values)


def test_tasks_of_the_request_share_its_values(agent: Agent) -> None:
    agent.load_input("x: {in_request: instruction}")

    async def main() -> list[Any]:
        with d2.set_user_context("u", ["r"]):
            d2.set_request_values(instruction="ask bob")

            async def one(value: str) -> Any:
                return agent.verdict(value)

            return list(await asyncio.gather(one("bob"), one("eve")))

    first, second = asyncio.run(main())
    assert first is None and second is not None


def test_threads_started_with_the_helpers_see_the_values(agent: Agent) -> None:
    from concurrent.futures import ThreadPoolExecutor

    agent.load_input("x: {in_request: instruction}")
    with d2.set_user_context("u", ["r"]):
        d2.set_request_values(instruction="ask bob")
        with ThreadPoolExecutor(2) as pool:
            good = d2.threads.submit_with_context(pool, agent.verdict, "bob").result()
            bad = d2.threads.submit_with_context(pool, agent.verdict, "eve").result()
    assert good is None and bad is not None


def test_long_instructions_take_linear_time(agent: Agent) -> None:
    agent.load_input("x: {in_request: {names: instruction, ignore_spaces: true, ignore_case: true}}")
    hostile = "a" * 200_000 + " ab " + "ab" * 100_000
    with d2.set_user_context("u", ["r"]):
        d2.set_request_values(instruction=hostile)
        agent.verdict("b")  # prepares the folded text once
        started = time.perf_counter()
        for needle in ("a" * 50 + "b", "ab" * 60 + "x", "b"):
            agent.verdict(needle)
        elapsed = time.perf_counter() - started
    assert elapsed < 0.5, f"{elapsed:.3f}s for three checks on a 400 KB instruction"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("x: {in_request: {names: instruction, ignore_cases: true}}", "did you mean 'ignore_case'?"),
        ("x: {in_request: {ignore_case: true}}", "missing required key 'names'"),
        ("x: {in_request: {names: instruction, ignore_case: yes}}", "must be true or false"),
        ("x: {in_request: 'user text'}", "does not match"),
        ("x: {in_request: {names: 'user text'}}", "is not an identifier"),
        ("x: {in_request: []}", "must not be empty"),
        ("x: {type: list, in_request: instruction}", "write 'each: {in_request: ...}'"),
    ],
)
def test_in_request_load_errors(body: str, fragment: str) -> None:
    found = errors(grant(body))
    assert found and any(fragment in e for e in found), found


def test_concurrent_requests_never_see_each_others_values(agent: Agent) -> None:
    import threading

    agent.load_input("x: {in_request: {names: instruction, ignore_case: true}}")
    wrong: list[str] = []
    barrier = threading.Barrier(4)

    def request(n: int) -> None:
        with d2.set_user_context(f"u{n}", ["r"]):
            d2.set_request_values(instruction=f"pay account-{n}")
            barrier.wait()
            for _ in range(300):
                if agent.verdict(f"account-{n}") is not None:
                    wrong.append(f"request {n} refused its own value")
                if agent.verdict(f"account-{(n + 1) % 4}") is None:
                    wrong.append(f"request {n} accepted another request's value")

    threads = [threading.Thread(target=request, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
