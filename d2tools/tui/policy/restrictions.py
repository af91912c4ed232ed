"""Restriction examples for the policy view: ``d2.restrict()`` fragments that fit the loaded policy.

Two kinds. *Written* examples come from files: ``restrict:`` steps of the scenario files that test
this policy (read with the scenario runner's own loader) and the policy's ``metadata.x-restrictions``
(an ``x-`` key, which the runtime ignores). *Derived* examples are built from a role's grants: only
some of its tools, no data-flow sinks, a tighter bound on a condition, an extra sequence rule.

Every example is rendered to YAML, that text is parsed back with the policy parser and compiled with
the runtime's restriction compiler against the loaded policy, so what the view shows is exactly what
``d2.restrict()`` would accept. A derived example that does not compile is dropped; a written one is
shown with the compiler's error, since that is a finding about the file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from d2._toolkit import CompiledPolicy, compile_restriction, parse_policy_text
from d2.exceptions import ConfigurationError, D2Error
from d2tools.inspect import PolicyView, RoleView

from .restrict_text import python_text, yaml_text

__all__ = [
    "Checked",
    "RestrictionExample",
    "check_example",
    "derived_examples",
    "policy_examples",
    "scenario_examples",
]

# Scenario files looked at next to the policy: a bound, so a policy in a huge directory stays cheap.
_MAX_SCENARIO_FILES = 50
_MAX_PER_ROLE_CONDITIONS = 3


@dataclass(frozen=True, slots=True)
class RestrictionExample:
    """One fragment, where it comes from, and the line its source pane shows."""

    title: str
    fragment: Mapping[str, Any]
    why: str
    origin: str  # "derived", "policy" or "scenario"
    role: str | None
    file: str
    line: int
    lines: tuple[str, ...] | None = None  # the file's text when it is not the policy on screen
    name: str = "example"


@dataclass(frozen=True, slots=True)
class Checked:
    """An example after the real compiler saw it: its texts, and the effect or the error."""

    example: RestrictionExample
    yaml: str
    python: str
    effect: tuple[str, ...]
    error: str | None = None
    narrows: bool = False  # by the compiled restriction: fewer tools, extra conditions or a sequence


def check_example(example: RestrictionExample, policy: CompiledPolicy | None) -> Checked:
    """Render ``example``, parse the YAML back and compile it as ``d2.restrict()`` would."""
    yaml = yaml_text(example.fragment)
    python = python_text(example.fragment, example.name)
    try:
        data = parse_policy_text(yaml, f"<restriction {example.name}>").data
        if data != dict(example.fragment):  # the text shown must say exactly what was compiled
            raise ConfigurationError("the YAML rendering does not read back as the fragment")
        restriction = compile_restriction(data, policy, name=example.name)
    except D2Error as exc:
        return Checked(example, yaml, python, (), str(exc))
    effect, narrows = _effect(restriction, example.role, policy)
    return Checked(example, yaml, python, effect, narrows=narrows)


def _effect(
    restriction: Any, role: str | None, policy: CompiledPolicy | None
) -> tuple[tuple[str, ...], bool]:
    """What the compiled restriction leaves of ``role``'s tools (by the compiled sets, not the text)."""
    out = []
    narrows = bool(restriction.conditions) or restriction.sequence is not None
    if role is not None and policy is not None:
        held = _held(role, policy)
        kept = [
            t
            for t in held
            if (restriction.tools is None or t in restriction.tools) and t not in restriction.denied
        ]
        out.append(f"role {role}: {len(kept)} of {len(held)} tools stay callable in the block")
        if len(kept) < len(held):
            narrows = True
            gone = [t for t in held if t not in kept]
            out.append("refused with reason restriction: " + _few(gone))
    narrowed = sorted(restriction.conditions)
    if narrowed:
        out.append("extra input conditions on " + _few(narrowed))
    if restriction.sequence is not None:
        out.append("its own sequence rule, counted from the start of the block")
    return tuple(out), narrows


def _held(role: str, policy: CompiledPolicy) -> list[str]:
    if role in policy.wildcard:
        return sorted(policy.known_tools)
    denied = {t for t, by_role in policy.denies.items() if role in by_role}
    return sorted(policy.tools_for(role) - denied)


def _few(names: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


# -- derived from the policy --------------------------------------------------------------------------
def derived_examples(
    role: RoleView, view: PolicyView, policy: CompiledPolicy | None, file: str
) -> tuple[Checked, ...]:
    """Fragments that narrow ``role``; only those the restriction compiler accepts are returned."""
    found = []
    for example in _candidates(role, view, policy, file):
        checked = check_example(example, policy)
        if checked.error is None and checked.narrows:
            found.append(checked)
    return tuple(found)


def _candidates(
    role: RoleView, view: PolicyView, policy: CompiledPolicy | None, file: str
) -> list[RestrictionExample]:
    allowed = [t for t in role.tools if t.allow]
    refs = list(dict.fromkeys(t.via or t.tool for t in allowed))
    names = list(dict.fromkeys(t.tool for t in allowed))
    if role.wildcard_line is not None and policy is not None:
        names = sorted(policy.known_tools)
        refs = names
    wildcard = [role.wildcard_line] if role.wildcard_line is not None else []
    written = [t.line for t in allowed] + wildcard
    first = min(written, default=1)
    name = role.name
    out = []

    def add(kind: str, title: str, fragment: dict[str, Any], why: str, line: int = first) -> None:
        out.append(
            RestrictionExample(title, fragment, why, "derived", name, file, line, name=f"{name}-{kind}")
        )

    if len(names) >= 2:
        task = names[: min(2, len(names) - 1)]
        add(
            "task",
            f"only {', '.join(task)}",
            {"tools": task},
            "A task that needs only some of the role's tools: every other tool is refused for this "
            "request, even one a prompt injection asks for.",
        )
    sinks = [ref for ref in _sink_refs(view) if _holds(role, ref, view)]
    if sinks:
        add(
            "no-egress",
            f"no {', '.join(sinks)}",
            {"deny": sinks},
            "A request that has no reason to send anything out: the data-flow sinks this role holds are "
            "refused while the block runs.",
        )
    elif len(refs) >= 2:
        add(
            "deny",
            f"no {refs[-1]}",
            {"deny": [refs[-1]]},
            "Keep the role, take one tool away for this request.",
        )
    count = 0
    for tool in allowed:
        tighter = _tighter(tool.input) if tool.input else None
        if tighter is None or count >= _MAX_PER_ROLE_CONDITIONS:
            continue
        count += 1
        add(
            f"narrow-{tool.tool}",
            f"{tool.tool}: " + ", ".join(f"{p} {_flow_rule(r)}" for p, r in tighter.items()),
            {"conditions": {tool.tool: {"input": tighter}}},
            "Bounds taken from what the user asked, tighter than the policy's own: the policy's "
            "conditions still apply, the restriction's apply as well.",
            tool.line,
        )
    sources = [ref for ref in view.flow.labels if _holds(role, ref, view)]
    if sources and sinks:
        add(
            "sequence",
            f"never {sources[0]} then {sinks[0]}",
            {"sequence": [{"deny": [sources[0], sinks[0]], "reason": "nothing read here leaves"}]},
            "A sequence rule for this request only, counted from the start of the block.",
        )
    return out


def _sink_refs(view: PolicyView) -> list[str]:
    every = (ref for refs in view.flow.blocks.values() for ref in refs)
    return list(dict.fromkeys(ref for ref in every if ref != "*"))  # '*' is refused in a restriction


def _holds(role: RoleView, ref: str, view: PolicyView) -> bool:
    members = set(view.groups.get(ref[1:], ())) if ref.startswith("@") else {ref}
    return role.wildcard_line is not None or any(t.allow and t.tool in members for t in role.tools)


def _tighter(rules: Mapping[str, Any]) -> dict[str, Any] | None:
    """Per parameter, a bound inside the policy's own (literal numbers, lists, lengths only)."""
    out: dict[str, Any] = {}
    for param, rule in rules.items():
        if not isinstance(param, str) or not isinstance(rule, Mapping):
            continue
        hi, lo = rule.get("max"), rule.get("min", 0)
        if _int(hi) and _int(lo) and hi >= 10 and hi // 10 > lo:  # a tenth of the bound: always tighter
            out[param] = {"max": hi // 10}
            continue
        choices = rule.get("in")
        if isinstance(choices, list) and len(choices) >= 2 and not isinstance(choices[0], (dict, list)):
            out[param] = {"in": choices[:1]}
            continue
        longest = rule.get("maxLength")
        if _int(longest) and longest // 2 > 0:
            out[param] = {"maxLength": longest // 2}
    return out or None


def _flow_rule(rule: Mapping[str, Any]) -> str:
    return ", ".join(f"{op} {value}" for op, value in rule.items())


def _int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


# -- written in files -------------------------------------------------------------------------------------
def policy_examples(data: Any, loc: Any, file: str) -> list[RestrictionExample]:
    """``metadata.x-restrictions: {name: fragment}`` of the policy document."""
    meta = data.get("metadata") if isinstance(data, Mapping) else None
    table = meta.get("x-restrictions") if isinstance(meta, Mapping) else None
    if not isinstance(table, Mapping):
        return []
    if isinstance(table, Mapping) and not table:
        return []
    out = []
    for name, fragment in table.items():
        if not isinstance(fragment, Mapping):
            continue
        line = loc(("metadata", "x-restrictions", name), key=True).line
        why = fragment.get("description")
        out.append(
            RestrictionExample(
                str(name),
                fragment,
                why if isinstance(why, str) else "Written in the policy's metadata.x-restrictions.",
                "policy",
                None,
                file,
                line,
                name=str(name),
            )
        )
    return out


def scenario_examples(policy_file: str) -> tuple[list[RestrictionExample], list[str]]:
    """``restrict:`` steps of the scenario files beside the policy that test it, and load problems."""
    from d2tools.testing import load_scenario_file

    target = _resolved(Path(policy_file))
    if target is None or not target.is_file():  # a bundle's policy has no folder of scenarios
        return [], []
    out: list[RestrictionExample] = []
    notes: list[str] = []
    seen: set[tuple[str, int, str]] = set()
    for path in _scenario_files(target.parent):
        result = load_scenario_file(path, display=_display(path))
        scenario = result.scenario
        if scenario is None:
            if _mentions(path, target):
                notes.append(f"{_display(path)}: {len(result.errors)} errors; run d2 test on it")
            continue
        if scenario.policy is not None and _resolved(scenario.policy) != target:
            continue
        lines = tuple(_read(path).splitlines())
        for case in scenario.cases:
            for step in case.steps:
                if step.restrict is None:
                    continue
                key = (scenario.path, step.line, repr(step.restrict))
                if key in seen:  # a table expands one step into one per row
                    continue
                seen.add(key)
                out.append(
                    RestrictionExample(
                        f"{case.name} (step {step.index + 1})",
                        dict(step.restrict),
                        f"A restrict step of scenario '{case.name}'.",
                        "scenario",
                        next(iter(case.user.roles)) if len(case.user.roles) == 1 else None,
                        scenario.path,
                        step.line,
                        lines,
                        name=f"step {step.index + 1}",
                    )
                )
    return out, notes


def _scenario_files(directory: Path) -> list[Path]:
    found: list[Path] = []
    for folder in (directory, directory / "scenarios"):
        try:
            found += sorted(folder.glob("*.d2test.yaml"))
        except OSError:
            continue
    return found[:_MAX_SCENARIO_FILES]


def _mentions(path: Path, target: Path) -> bool:
    return target.name in _read(path)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _resolved(path: Path) -> Path | None:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop
        return None


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (OSError, ValueError):
        return str(path)
