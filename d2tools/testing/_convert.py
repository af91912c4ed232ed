"""Turn a shape-checked case (plain, or expanded from a table row) into typed :mod:`._model` values.

The schema has already fixed every type, so what is checked here is meaning: an expectation that
contradicts itself, a step that neither calls nor records, a rule reference that names no line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from d2._toolkit import Diagnostic, JsonPath, Severity, SourceDoc, UserContext

from ._model import Case, Decision, Expect, RuleRef, Step, split_location
from ._table import Expanded

__all__ = ["DEFAULT_USER", "Converter", "parse_rule"]

DEFAULT_USER = "scenario-user"


def parse_rule(raw: Any) -> RuleRef | None:
    """Read ``14``, ``"14"``, ``"policy.yaml:14"`` or ``"policy.yaml:14:9"``; None when it names no line."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return RuleRef(str(raw), None, raw) if raw > 0 else None
    text = str(raw).strip()
    if text.isdigit():
        return RuleRef(text, None, int(text)) if int(text) > 0 else None
    file, line, col = split_location(text)
    if line is None or not file:
        return None
    return RuleRef(text, file, line, col)


class Converter:
    """Build cases of one file, appending a diagnostic for each problem found."""

    def __init__(self, doc: SourceDoc, defaults: Mapping[str, Any], problems: list[Diagnostic]) -> None:
        self.doc = doc
        self.defaults = defaults
        self.problems = problems
        self._ok = True

    def case(self, e: Expanded) -> Case | None:
        self._ok = True
        data = e.data
        where = self.doc.loc(e.row_path if e.row_path is not None else e.doc_path(()))
        user = self._user(data, self.defaults)
        steps = tuple(self._step(e, n, s, user) for n, s in enumerate(data["steps"]))
        skip = data.get("skip", False)
        if not isinstance(skip, (bool, str)):
            self._error(e, ("skip",), "D2E003", "'skip' must be true, false or a reason")
        if not self._ok:
            return None
        return Case(
            file=self.doc.file,
            name=str(data["name"]),
            line=where.line,
            col=where.col,
            user=user,
            steps=steps,
            skip=None if skip is False else ("" if skip is True else str(skip)),
            row=e.row,
            request=data.get("request"),
        )

    @staticmethod
    def _user(data: Mapping[str, Any], base: Mapping[str, Any]) -> UserContext:
        user = data.get("user", base.get("user", DEFAULT_USER))
        roles = data.get("roles", base.get("roles", ()))
        attributes = data.get("attributes", base.get("attributes") or {})
        return UserContext(
            None if user is None else str(user),
            frozenset([roles] if isinstance(roles, str) else roles),
            attributes,
        )

    def _step(self, e: Expanded, n: int, data: Mapping[str, Any], user: UserContext) -> Step:
        path: JsonPath = ("steps", n)
        where = self.doc.loc(e.doc_path(path))
        call, record, restrict = data.get("call"), data.get("record"), data.get("restrict")
        kinds = [k for k in ("call", "record", "restrict") if data.get(k) is not None]
        if len(kinds) != 1:
            what = " and ".join(f"'{k}'" for k in kinds) if kinds else "none of 'call', 'record', 'restrict'"
            hint = "a step calls one tool, records labels, or starts a restriction"
            self._error(e, path, "D2T110", f"step {n + 1} has {what}", hint)
        expect = self._expect(e, (*path, "expect"), data.get("expect", "allow"), data)
        args, kwargs, named = self._arguments(e, path, data)
        actor = None
        if "as" in data:
            same_user = "user" not in data["as"]
            base = {
                "user": user.user_id,
                "roles": sorted(user.roles),
                "attributes": dict(user.attributes) if same_user else {},
            }
            actor = self._user(data["as"], base)
        for kind in ("record", "restrict"):
            if data.get(kind) is not None and {"args", "kwargs", "returns", "as"} & data.keys():
                self._error(e, path, "D2T110", f"a '{kind}' step takes no arguments, return value or actor")
        return Step(
            index=n,
            line=where.line,
            col=where.col,
            call=call,
            args=args,
            kwargs=kwargs,
            named_only=named,
            has_returns="returns" in data,
            returns=data.get("returns"),
            record=tuple(record or ()),
            restrict=restrict,
            actor=actor,
            expect=expect,
        )

    def _arguments(
        self, e: Expanded, path: JsonPath, data: Mapping[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any], bool]:
        args = data.get("args", [])
        kwargs = dict(data.get("kwargs") or {})
        if isinstance(args, dict):
            if kwargs:
                self._error(
                    e, (*path, "kwargs"), "D2T110", "'args' is already a mapping; put these in it", key=True
                )
            return (), dict(args), True
        return tuple(args), kwargs, False

    def _expect(self, e: Expanded, path: JsonPath, raw: Any, step: Mapping[str, Any]) -> Expect:
        if isinstance(raw, str):
            return Expect(Decision(raw))
        deny = raw.get("deny")
        decision = Decision.DENY if deny is not None else Decision.ALLOW
        if "allow" in raw and deny is not None:
            self._error(e, path, "D2T107", "an expectation cannot be both 'allow' and 'deny'")
        if "message" in raw and decision is Decision.ALLOW:
            self._error(e, (*path, "message"), "D2T107", "'message' is about a refusal; add 'deny'", key=True)
        if "output" in raw and decision is Decision.DENY:
            self._error(e, (*path, "output"), "D2T107", "a refused call returns no output", key=True)
        if "output" in raw and "returns" not in step:
            self._error(
                e,
                (*path, "output"),
                "D2T108",
                "'output' needs 'returns' on the step: the value the tool returns before output rules",
                key=True,
            )
        for kind in ("record", "restrict"):
            if kind in step and ({"output", "rule", "message"} & raw.keys() or deny is not None):
                self._error(e, path, "D2T110", f"a '{kind}' step can only expect 'facts'")
        rule = None
        if "rule" in raw:
            rule = parse_rule(raw["rule"])
            if rule is None:
                self._error(
                    e,
                    (*path, "rule"),
                    "D2T109",
                    f"'rule' must name a policy line, got {raw['rule']!r}",
                    "write 'policy.yaml:14', 'policy.yaml:14:9' or just 14",
                )
        facts = raw.get("facts")
        return Expect(
            decision=decision,
            reason=deny if isinstance(deny, str) else None,
            rule=rule,
            message=raw.get("message"),
            has_output="output" in raw,
            output=raw.get("output"),
            facts=frozenset(facts) if facts is not None else None,
        )

    def _error(
        self,
        e: Expanded,
        path: JsonPath,
        code: str,
        message: str,
        hint: str | None = None,
        *,
        key: bool = False,
    ) -> None:
        self._ok = False
        where = self.doc.loc(e.doc_path(path), key=key)
        if e.row is not None:
            note = f"in row {e.row} of the table"
            hint = f"{hint}; {note}" if hint else note
        self.problems.append(
            Diagnostic(code, message, Severity.ERROR, where.file, where.line, where.col, path, hint)
        )
