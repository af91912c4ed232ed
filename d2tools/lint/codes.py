"""The catalogue of diagnostic codes: one place that says what each code means and how to fix it.

``docs/lint-codes.md`` is generated from this table (``python -m d2tools.lint > docs/lint-codes.md``),
SARIF output takes its rule descriptions from it, and a test fails when the code base emits a code
that is not listed here. Codes are stable: a code keeps its meaning forever; retired codes are never reused.

Ranges: ``D2E0xx``/``D2W0xx`` document structure, ``D2E1xx``/``D2W1xx`` conditions and output rules,
``D2E7xx``/``D2W7xx`` checks only ``d2 lint`` makes (expiry, dead grants, checks against the code),
``D2E8xx`` restrictions, ``D2E9xx`` features this build cannot enforce, ``D2Sxxx`` source-scan findings,
``D2Mxxx`` migration notes for policies written for the vendor SDK (``d2 lint --vendor``).
"""

from __future__ import annotations

from dataclasses import dataclass

from d2._toolkit import Severity

__all__ = ["CODES", "CodeInfo", "lookup", "render_markdown"]

E, W = Severity.ERROR, Severity.WARNING


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """One diagnostic code: default severity, a short title, and what to do about it."""

    code: str
    severity: Severity
    title: str
    fix: str
    origin: str  # "policy", "lint", "init" (lint --code, init --check), "scan", "vendor", "retired"


def _c(code: str, severity: Severity, title: str, fix: str, origin: str = "policy") -> CodeInfo:
    return CodeInfo(code, severity, title, fix, origin)


CODES: dict[str, CodeInfo] = {
    info.code: info
    for info in (
        _c(
            "D2E001",
            E,
            "The file is not valid YAML/JSON or not UTF-8.",
            "Fix the syntax at the position shown.",
        ),
        _c("D2E002", E, "Unknown key.", "Use the suggested key; free annotations must start with `x-`."),
        _c("D2E003", E, "A value has the wrong type.", "Write the type the message names."),
        _c("D2E004", E, "A required key or the role list is missing.", "Add the key named in the message."),
        _c(
            "D2E005",
            E,
            "A value is not allowed here (bad enum value, empty, out of range).",
            "Use one of the listed values.",
        ),
        _c(
            "D2E006",
            E,
            "`metadata.expires` is not an ISO 8601 date-time.",
            "Write e.g. `2026-12-31T00:00:00Z`.",
        ),
        _c(
            "D2E007",
            E,
            "The policy has both `policies` and `roles`.",
            "Keep one list (`policies` is canonical).",
        ),
        _c("D2E008", E, "A role entry has both `role` and `roles`.", "Keep one of them."),
        _c(
            "D2E010",
            E,
            "A `@group` is used but not declared.",
            "Declare it under `metadata.tool_groups` or fix the name.",
        ),
        _c(
            "D2E011",
            E,
            "A tool group lists a `@group` or `*`.",
            "List member tool ids directly; groups do not nest.",
        ),
        _c(
            "D2E012",
            E,
            "`*` used with conditions or with `allow: false`.",
            "Grant tools by name or `@group` to attach conditions; remove a role's grants instead of "
            "denying `*`.",
        ),
        _c(
            "D2E013",
            E,
            "An `allow: false` entry carries conditions.",
            "A deny is unconditional: remove `conditions` or make the entry an allow.",
        ),
        _c("D2E101", E, "Unknown operator in a condition or output rule.", "Use the suggested operator."),
        _c(
            "D2E102",
            E,
            "An operand does not suit its operator, or the constraint can never pass.",
            "Fix the operand's type or range as the hint says.",
        ),
        _c(
            "D2E103",
            E,
            "A regular expression is invalid or matches the empty string in a search.",
            "Fix the pattern; make searched patterns require at least one character.",
        ),
        _c(
            "D2E104",
            E,
            "A regular expression uses a feature RE2 does not support (backreferences, lookaround).",
            "Rewrite it without the feature; policy regexes always run in linear time.",
        ),
        _c(
            "D2E105",
            E,
            "A parameter name or output field path cannot be used.",
            "Name a top-level parameter; write paths like `a.b.c`, `items.*.id` or `**.secret`.",
        ),
        _c(
            "D2E106",
            E,
            "An output rule's options contradict each other.",
            "Follow the hint (e.g. `truncate` needs `maxLength`).",
        ),
        _c(
            "D2E107",
            E,
            "An attribute reference (`{$attr: user.NAME}`) names an unknown namespace or is malformed.",
            "Write `{$attr: user.NAME}`; attributes come from `set_user(..., attributes={...})`.",
        ),
        _c(
            "D2E108",
            E,
            "`not_from` names a label that `metadata.data_flow.untrusted` does not declare, so no value is "
            "ever recorded under it.",
            "Declare the label under `data_flow.untrusted` (and the tools that emit it under `labels`), or "
            "use the suggested label.",
        ),
        _c(
            "D2W002",
            W,
            "A tool group is never used.",
            "Use it in a grant, sequence or data-flow rule, or delete it.",
        ),
        _c("D2W004", W, "A role is granted the same tool twice.", "Delete the repeated grant."),
        _c("D2W005", W, "A tool group lists the same tool twice.", "Delete the repeated member."),
        _c(
            "D2W006",
            W,
            "A granted or denied tool id holds `*` or `?`, but only `*` on its own is a wildcard: "
            "`crm.*` grants a tool literally named `crm.*`, which no code has.",
            "List the tools, or name a `@group` of them under `metadata.tool_groups`.",
        ),
        _c("D2W101", W, "A condition or output rule checks nothing.", "Add an operator or delete the rule."),
        _c(
            "D2W102",
            W,
            "A `matches` pattern is anchored at one end only, but `matches` always matches the whole value.",
            "Write `.*` on the open side for a search, or use `startsWith`, `endsWith` or `not_matches`.",
        ),
        _c(
            "D2E201",
            E,
            "A sequence rule has both (or neither of) `deny` and `allow`.",
            "Write `{deny: [a, b], reason: ...}` or `{allow: [a, b]}`.",
        ),
        _c(
            "D2E202",
            E,
            "A sequence pattern is empty (policy files get D2E005 from the shape check first).",
            "List the tools in call order.",
        ),
        _c(
            "D2E203",
            E,
            "Unknown sequence mode (policy files get D2E005 from the shape check first).",
            "Use `allow` (the default) or `deny`.",
        ),
        _c(
            "D2E204",
            E,
            "`*` is a step of a sequence pattern.",
            "Name the tools, or declare a `@group` of them under `metadata.tool_groups`.",
        ),
        _c(
            "D2W201",
            W,
            "A role declares different sequence modes in different entries; deny mode applies.",
            "Declare one mode per role.",
        ),
        _c(
            "D2W202",
            W,
            "A sequence step names a tool the policy never grants, denies or groups, and it looks like a "
            "typo (or names an empty group).",
            "Fix the tool id; a misspelt step never matches, which turns the rule off.",
        ),
        _c(
            "D2W203",
            W,
            "A role uses sequence mode `deny` without any `allow` pattern: every call it makes is refused.",
            "Add `{allow: [first.tool, next.tool]}` workflow steps, or use mode `allow`.",
        ),
        _c(
            "D2E301",
            E,
            "`*` is given data-flow labels.",
            "Name the tools or `@groups` whose data the label describes.",
        ),
        _c(
            "D2E302",
            E,
            "A blocked label is never emitted and resembles an emitted one (a typo that would block "
            "nothing).",
            "Use the suggested label.",
        ),
        _c(
            "D2W301",
            W,
            "A blocked label is emitted by no tool; only `record_fact()` in code can set it.",
            "Add the tools that produce this data under `data_flow.labels`, or set it from code on purpose.",
        ),
        _c(
            "D2W302",
            W,
            "A data-flow entry names a tool the policy never grants, denies or groups, and it looks like a "
            "typo (or names an empty group).",
            "Fix the tool id.",
        ),
        _c(
            "D2W303",
            W,
            "A data-flow label blocks no tool.",
            "List tools or `@groups` under the label, or delete it.",
        ),
        _c(
            "D2E303",
            E,
            "An untrusted label is emitted by no tool and resembles an emitted one (a typo that would track "
            "nothing).",
            "Use the suggested label.",
        ),
        _c(
            "D2W304",
            W,
            "An untrusted label is emitted by no tool; only `record_untrusted()` in code can feed it.",
            "Add the tools whose results are untrusted under `data_flow.labels`, or feed it from code on "
            "purpose.",
        ),
        _c(
            "D2E700",
            E,
            "The policy file cannot be read (missing, unreadable, over the size limit).",
            "Check the path; raise `D2_MAX_POLICY_BYTES` for a very large policy.",
            "lint",
        ),
        _c(
            "D2E701",
            E,
            "The policy has expired: loaded, it would refuse every call.",
            "Move `metadata.expires` forward (or remove it).",
            "lint",
        ),
        _c(
            "D2E702",
            E,
            "An input condition names a parameter the guarded function does not have (`--code`).",
            "Rename the condition to one of the function's parameters; at run time this policy would "
            "not load.",
            "lint",
        ),
        _c("D2W701", W, "The policy expires within 7 days.", "Move `metadata.expires` forward.", "lint"),
        _c(
            "D2W702",
            W,
            "A grant has no effect because the same role is granted `*`.",
            "Delete the grant, or remove `*` from the role. (Grants with output rules still apply and are "
            "not reported.)",
            "lint",
        ),
        _c(
            "D2W703",
            W,
            "A sequence rule can never fire: it names a tool no role may call.",
            "Grant the tool to some role, or delete the rule (check the tool id for typos).",
            "lint",
        ),
        _c(
            "D2W704",
            W,
            "Retired: a tool no scanned code guards is reported as D2E711 by `d2 lint --code` too.",
            "See D2E711.",
            "retired",
        ),
        _c(
            "D2W705",
            W,
            "An inline suppression (`# d2: ignore[CODE] reason`) gives no reason, so it is not applied.",
            "Say why after the bracket: `# d2: ignore[D2W702] kept for the audit trail`.",
            "lint",
        ),
        _c(
            "D2W706",
            W,
            "An inline suppression names an error or an unknown code; only warnings can be suppressed.",
            "Fix the error (a policy with errors does not load), or correct the code.",
            "lint",
        ),
        _c(
            "D2W707",
            W,
            "A negative operator (`not_in`, `ne`, `not_contains`) has no `type` beside it: a value of "
            "another type is refused at run time rather than compared.",
            "Say what the value is, e.g. `type: string` beside `not_in`.",
            "lint",
        ),
        _c(
            "D2E710",
            E,
            "`d2 init --check`: the code guards a tool the policy does not name.",
            "Grant the tool to a role (or deny it explicitly); `d2 init --stdout` shows a fresh starter.",
            "init",
        ),
        _c(
            "D2E711",
            E,
            "The policy names a tool no scanned code guards (`d2 lint --code`, `d2 init --check`).",
            "Use the suggested id (a typo leaves the real tool ungranted), or delete the stale entry; "
            "dynamic ids the scanner cannot resolve are listed as D2S003.",
            "init",
        ),
        _c(
            "D2E801", E, "A `d2.restrict()` fragment uses `*`.", "A restriction only narrows: list the tools."
        ),
        _c(
            "D2E900",
            E,
            "The policy uses a section this build of d2 cannot enforce.",
            "Upgrade d2 or remove the section; d2 refuses rules it would not enforce.",
        ),
        _c("D2S001", E, "A Python file has a syntax error.", "Fix the file; it would not import.", "scan"),
        _c(
            "D2S002",
            E,
            "A file cannot be read (missing, unreadable, not UTF-8).",
            "Check the path and encoding.",
            "scan",
        ),
        _c(
            "D2S003",
            W,
            "A tool id is computed at run time, so the scanner cannot know it.",
            "Use a string literal or a module-level name bound once to one, or list the id in the policy "
            "by hand.",
            "scan",
        ),
        _c(
            "D2S004",
            W,
            "A tool id is imported from a module the scanner cannot read, or is not a string constant there "
            "(an error when it is an empty string).",
            "Bind it once to a string literal in that module, or write the id as a literal.",
            "scan",
        ),
        _c(
            "D2S005",
            W,
            "The guard wraps something the scanner cannot identify as a function.",
            "Apply the guard to a function definition.",
            "scan",
        ),
        _c(
            "D2S006",
            W,
            "An auto id assumes the file is imported as a module; run as a script, its id is `__main__.*`.",
            "Give the tool an explicit id.",
            "scan",
        ),
        _c("D2S007", E, "A tool id is empty: `d2_guard` would raise.", "Write a non-empty id.", "scan"),
        _c("D2S008", W, "A file is too large to scan.", "Guard tools in smaller modules.", "scan"),
        _c(
            "D2S009",
            E,
            "The guard is applied to a `staticmethod`/`classmethod`/`property` object, which it refuses.",
            "Put `@d2_guard` below the descriptor decorator, directly on the function.",
            "scan",
        ),
        _c(
            "D2S010",
            E,
            "The scanner failed on a file (a bug in d2).",
            "Report it with the file attached.",
            "scan",
        ),
        _c(
            "D2S011",
            W,
            "The guard decorates a class, replacing it with a function (isinstance and subclassing break).",
            "Guard the class's methods instead.",
            "scan",
        ),
        _c(
            "D2S012",
            E,
            "The guard is above a framework's tool decorator (`@agent.tool_plain`, `@server.tool`, "
            "`@tool`, ...), which registers the unguarded function or returns a tool object.",
            "Put `@d2_guard` below the tool decorator, or use the adapter in `d2tools.integrations`.",
            "scan",
        ),
        _c(
            "D2M001",
            W,
            "`allow: false` is enforced here; the vendor SDK still granted the tool.",
            "Keep it if the deny is meant; delete the entry to grant the tool.",
            "vendor",
        ),
        _c(
            "D2M002",
            W,
            "An `@group` in permissions grants every tool of the group here; the vendor SDK granted nothing.",
            "Check that the role should have every tool of the group.",
            "vendor",
        ),
        _c(
            "D2M003",
            W,
            "Output rules apply to every item of a list result here.",
            "Run your scenarios: results that passed before may now be refused or redacted.",
            "vendor",
        ),
        _c(
            "D2M004",
            W,
            "No cap on the policy's lifetime: `expires` is honoured as written.",
            "Set the expiry you really want, or drop it.",
            "vendor",
        ),
        _c(
            "D2M005",
            W,
            "A tool granted by several roles, some with conditions: any one passing grant allows the call.",
            "Give users only the roles they need, or put the same conditions on every grant.",
            "vendor",
        ),
        _c(
            "D2M006",
            W,
            "A one-element `deny` sequence forbids the tool here; the vendor SDK ignored it.",
            "Remove the pattern, or deny the tool with `allow: false`.",
            "vendor",
        ),
    )
}


def lookup(code: str) -> CodeInfo | None:
    """Return the catalogue entry of ``code`` (None for a code this build does not know)."""
    return CODES.get(code)


_ORIGINS = (
    (
        "policy",
        "Policy diagnostics (the runtime loader and `d2 lint`)",
        "A policy with any of these errors does not load; warnings are logged at load.",
    ),
    (
        "lint",
        "Lint-only checks (`d2 lint`)",
        "The runtime does not make these checks; `d2 lint` (and the pre-commit hook) does.",
    ),
    (
        "init",
        "Drift between code and policy (`d2 lint --code`, `d2 init --check`)",
        "Reported when the tools the code guards and the tools the policy names differ.",
    ),
    (
        "scan",
        "Source-scan findings (`d2 init`, `d2 lint --code`)",
        "The scanner reports what it cannot see through in your Python code.",
    ),
    (
        "vendor",
        "Migration notes (`d2 lint --vendor`)",
        "Where a policy written for the vendor SDK behaves differently on d2 (see docs/migrating.md).",
    ),
    (
        "retired",
        "Retired codes",
        "No longer reported; a retired code is never reused for another meaning.",
    ),
)


def render_markdown() -> str:
    """Render the catalogue as the ``docs/lint-codes.md`` page."""
    lines = [
        "# Diagnostic codes",
        "",
        "<!-- Generated by `python -m d2tools.lint > docs/lint-codes.md`; do not edit by hand. -->",
        "",
        "Every finding is printed as `file:line:col: CODE message (hint)`. Codes are stable. Errors (`E`)",
        "stop a policy from loading and make `d2 lint` exit 1; warnings (`W`) do not, unless",
        "`d2 lint --strict`. Silence a code with `d2 lint --ignore CODE` or `[tool.d2] ignore`, or one",
        "warning in place with `# d2: ignore[CODE] reason` on its line (errors cannot be suppressed).",
    ]
    for origin, heading, intro in _ORIGINS:
        lines += [
            "",
            f"## {heading}",
            "",
            intro,
            "",
            "| Code | Severity | Meaning | How to fix |",
            "|---|---|---|---|",
        ]
        for info in sorted(CODES.values(), key=lambda c: c.code):
            if info.origin == origin:
                lines.append(f"| `{info.code}` | {info.severity.value} | {info.title} | {info.fix} |")
    return "\n".join(lines) + "\n"
