"""Output field paths, pinned where mutation testing of ``_lang/paths.py`` found gaps.

A path whose ``**`` is followed by a wildcard is a load error that names the wildcard (never a crash
while building the message); and a compiled presence rule cannot be edited.
"""

from __future__ import annotations

import dataclasses
import enum
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import d2
from d2._base.diagnostics import Location
from d2._lang.paths import REMOVE, PathNode, Presence, Replace, Stop, remove_always, visit


@pytest.mark.parametrize(("path", "follower"), [("**.*", "*"), ("**.**", "**"), ("a.**.*", "*")])
def test_a_wildcard_after_any_depth_is_a_load_error_naming_it(
    write_policy: Callable[[str], Path], path: str, follower: str
) -> None:
    policy = f"""
    policies:
      - role: r
        permissions:
          - tool: t
            conditions:
              output:
                "{path}": {{action: filter}}
    """
    with pytest.raises(d2.ConfigurationError) as info:
        d2.configure_rbac_sync(write_policy(textwrap.dedent(policy)))
    text = str(info.value) + "".join(str(d) for d in info.value.diagnostics)
    assert f"is followed by '{follower}'" in text


def test_a_presence_rule_cannot_be_edited() -> None:
    presence = Presence("output_validation", Location("p.yaml", 1, 1), "is required but missing")
    with pytest.raises(dataclasses.FrozenInstanceError):
        presence.reason = "other"  # type: ignore[misc]


def test_a_part_shared_twice_is_filtered_in_both_places(write_policy: Callable[[str], Path]) -> None:
    policy = """
    policies:
      - role: r
        permissions:
          - tool: rows.any
            conditions:
              output:
                "**.ssn": {action: filter}
    """
    d2.configure_rbac_sync(write_policy(textwrap.dedent(policy)))
    row = {"name": "a", "ssn": "123-45-6789"}
    tool = d2.d2_guard("rows.any")(lambda: {"rows": [row, row], "again": row})
    with d2.set_user_context("u", ["r"]):
        result = tool()
    assert result == {"rows": [{"name": "a"}, {"name": "a"}], "again": {"name": "a"}}
    assert row == {"name": "a", "ssn": "123-45-6789"}  # the tool's own value is never changed


def _upper(value: Any, state: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def test_a_filter_after_another_rule_on_its_path_still_removes_the_field() -> None:
    # Only a filter that comes first makes the key a plain drop; a later one is called like any rule.
    trie = PathNode()
    trie.insert(("ssn",), _upper)
    trie.insert(("ssn",), remove_always)
    assert not trie.keys["ssn"].drop
    for sealed in (False, True):
        if sealed:
            trie.seal()
        assert visit({"name": "a", "ssn": "1"}, trie, None) == {"name": "a"}
        assert visit([{"ssn": "1"}], trie, None) == [{}]


def test_the_first_presence_rule_on_a_field_explains_it_missing() -> None:
    first = Presence("first rule", Location("p.yaml", 1, 1), "is required")
    second = Presence("second rule", Location("p.yaml", 2, 1), "must be present")
    trie = PathNode()
    trie.insert(("id",), _upper, first)
    trie.insert(("id",), _upper, second)
    trie.insert(("id",), _upper)
    for sealed in (False, True):
        if sealed:
            trie.seal()
        with pytest.raises(Stop) as info:
            visit({"name": "a"}, trie, None)
        assert (info.value.reason, info.value.message) == ("first rule", "is required")


class Row(Mapping[str, Any]):
    """A read-only mapping with no ``copy`` method, as some result types are."""

    def __init__(self, **items: Any) -> None:
        self._items = items

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


@pytest.mark.parametrize("sealed", [False, True])
def test_rules_apply_to_a_mapping_that_is_not_a_dict(sealed: bool) -> None:
    trie = PathNode()
    trie.insert(("ssn",), remove_always)
    trie.insert(("name",), Replace("[redacted]"))
    trie.insert(("tag",), _upper)
    if sealed:
        trie.seal()
    row = Row(name="a", ssn="1", tag="x", other=2)
    expected = {"name": "[redacted]", "tag": "X", "other": 2}
    assert visit(row, trie, None) == expected
    assert visit([row, {"ssn": "2"}], trie, None) == [expected, {}]
    assert visit({"rows": [row]}, _under("rows", trie), None) == {"rows": [expected]}
    assert dict(row) == {"name": "a", "ssn": "1", "tag": "x", "other": 2}


def _under(key: str, trie: PathNode) -> PathNode:
    outer = PathNode()
    for part, child in trie.keys.items():
        for rule in child.rules:
            outer.insert((key, part), rule)
    outer.seal()
    return outer


def test_a_changed_field_of_a_mapping_that_is_not_a_dict_is_copied_out() -> None:
    trie = PathNode()
    trie.insert(("ssn",), remove_always)
    trie.insert(("tag",), _upper)
    row = Row(tag="x", other=1)  # nothing dropped first: the change itself must copy the mapping
    assert visit(row, trie, None) == {"tag": "X", "other": 1}
    assert dict(row) == {"tag": "x", "other": 1}


def _drop_text(value: Any, state: Any) -> Any:
    return REMOVE if isinstance(value, str) else value


def test_an_item_a_wildcard_removed_is_not_walked_for_fields() -> None:
    trie = PathNode()
    trie.insert(("*",), _drop_text)
    trie.insert(("ssn",), remove_always)
    assert visit(["gone", {"ssn": "1", "a": 2}, "also gone"], trie, None) == [{"a": 2}]


@pytest.mark.parametrize("sealed", [False, True])
def test_a_wildcard_reaches_one_level_of_a_list_only(sealed: bool) -> None:
    # ``*`` names the items of this list; a list or mapping inside an item is walked for the named
    # fields only, never for ``*`` again.
    trie = PathNode()
    trie.insert(("*",), _upper)
    trie.insert(("k",), _upper)
    if sealed:
        trie.seal()
    value = ["a", ["b", Row(k="x", v="y")], Row(k="x", v="y"), ("c",)]
    assert visit(value, trie, None) == ["A", ["b", {"k": "X", "v": "y"}], {"k": "X", "v": "y"}, ("c",)]


class Hidden(int, enum.Enum):
    """An int-valued Enum whose ``value`` is a record: d2 cannot read it as the int it looks like."""

    def __new__(cls, number: int, record: dict[str, str]) -> Hidden:
        member = int.__new__(cls, number)
        member._value_ = record
        return member

    def __repr__(self) -> str:
        return f"Hidden.{self.name}"

    SECRET = (1, {"ssn": "123-45-6789"})


@pytest.mark.parametrize("value", [{"a": Hidden.SECRET}, [Hidden.SECRET], {"a": [Hidden.SECRET]}], ids=repr)
def test_any_depth_refuses_an_enum_that_hides_a_record(value: Any) -> None:
    trie = PathNode()
    trie.insert(("**", "ssn"), remove_always)
    with pytest.raises(Stop, match="Enum member"):
        visit(value, trie, None)


@dataclasses.dataclass
class Tagged(str):
    """A dataclass that is also a str: its fields are data, as any record's are."""

    ssn: str = ""


@dataclasses.dataclass
class Counted(int):
    ssn: str = ""


def test_any_depth_reaches_the_fields_of_a_record_that_subclasses_a_leaf(
    write_policy: Callable[[str], Path],
) -> None:
    # Fail-open found by mutation testing: the any-depth walk stepped over every str or int, a
    # subclass with fields included, so "**.ssn" let these fields through.
    policy = """
    policies:
      - role: r
        permissions:
          - tool: rows.any
            conditions:
              output:
                "**.ssn": {action: filter}
    """
    d2.configure_rbac_sync(write_policy(textwrap.dedent(policy)))
    tagged, counted = Tagged("123-45-6789"), Counted(5)
    counted.ssn = "987-65-4321"
    tool = d2.d2_guard("rows.any")(lambda: {"a": tagged, "rows": [counted, "plain", 7], "ok": 1.5})
    with d2.set_user_context("u", ["r"]):
        result = tool()
    assert result == {"a": {}, "rows": [{}, "plain", 7], "ok": 1.5}
    assert "123-45-6789" not in repr(result) and "987-65-4321" not in repr(result)
