"""``d2 diagnose``: load the policy the way the runtime would and say what was found and what is wrong."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from d2._toolkit import Diagnostic

__all__ = ["Counts", "Diagnosis", "diagnose"]


@dataclass(frozen=True, slots=True)
class Counts:
    """How big the policy is."""

    roles: int = 0
    tools: int = 0
    groups: int = 0
    grants: int = 0
    sequence_rules: int = 0
    data_flow_rules: int = 0


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """Everything ``d2 diagnose`` reports; ``problems`` empty and no error diagnostics means healthy."""

    path: str | None = None
    how: str | None = None  # "argument", "D2_POLICY_FILE", "XDG config", "working directory"
    name: str | None = None
    version: str | None = None
    size_bytes: int | None = None
    max_bytes: int | None = None
    expires: datetime | None = None
    counts: Counts = field(default_factory=Counts)
    diagnostics: tuple[Diagnostic, ...] = ()
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    mode: str = "local"  # "cloud" when D2_TOKEN makes the runtime read the control plane's bundle
    cloud: Mapping[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and not any(d.is_error for d in self.diagnostics)

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--format json``."""
        from d2tools.report.json import diagnostic_dict

        return {
            "ok": self.ok,
            "policy": {"path": self.path, "found_via": self.how, "name": self.name, "version": self.version},
            "counts": {
                "roles": self.counts.roles,
                "tools": self.counts.tools,
                "groups": self.counts.groups,
                "grants": self.counts.grants,
                "sequence_rules": self.counts.sequence_rules,
                "data_flow_rules": self.counts.data_flow_rules,
            },
            "expires": self.expires.isoformat() if self.expires else None,
            "limits": {"size_bytes": self.size_bytes, "max_bytes": self.max_bytes},
            "diagnostics": [diagnostic_dict(d) for d in self.diagnostics],
            "problems": list(self.problems),
            "notes": list(self.notes),
            "mode": self.mode,
            "cloud": dict(self.cloud) if self.cloud is not None else None,
        }


def diagnose(explicit: Path | None = None, *, now: datetime | None = None) -> Diagnosis:
    """Discover (D2_POLICY_FILE, XDG config, working directory), lint and measure the policy."""
    from d2._toolkit import discover_policy
    from d2.exceptions import D2Error

    notes = _mode_notes(explicit)
    try:
        found = discover_policy(explicit)
    except D2Error as exc:
        return Diagnosis(problems=(str(exc),), notes=notes)
    return _with_watcher(_measure(found.path, found.how, now, notes))


def _with_watcher(diagnosis: Diagnosis) -> Diagnosis:
    """Add the hot-reload watcher's health when this process runs one (``diagnose()`` called in-app)."""
    import dataclasses

    import d2

    status = d2.get_policy_manager().watch_status()
    if status is None:
        return diagnosis
    notes = (
        *diagnosis.notes,
        f"hot reload: watching {status.path} (delay {status.delay} s), {status.reloads} reload(s), "
        f"{status.failures} failure(s)",
    )
    problems = list(diagnosis.problems)
    if not status.running:
        problems.append(f"hot reload: the watcher of {status.path} is not running; edits will not load")
    elif not status.healthy:
        problems.append(
            f"hot reload: the last reload failed, the previous policy is in force: {status.last_error}"
        )
    return dataclasses.replace(diagnosis, notes=notes, problems=tuple(problems))


def _measure(path: Path, how: str, now: datetime | None, notes: tuple[str, ...]) -> Diagnosis:
    from d2._toolkit import max_bytes_from_env
    from d2.exceptions import ConfigurationError
    from d2tools.lint import lint_file

    problems: list[str] = []
    try:
        limit: int | None = max_bytes_from_env()
    except ConfigurationError as exc:
        limit = None
        problems.append(str(exc))
    size = path.stat().st_size if path.exists() else None
    linted = lint_file(path, now=now or datetime.now(timezone.utc))
    policy = linted.policy
    if any(d.is_error for d in linted.diagnostics):
        problems.append(f"{path} would not load: fix the errors below")
    return Diagnosis(
        path=str(path),
        how=how,
        name=policy.name if policy else None,
        version=policy.version if policy else None,
        size_bytes=size,
        max_bytes=limit,
        expires=policy.expires if policy else None,
        counts=_counts(linted.doc.data if linted.doc else None, policy),
        diagnostics=linted.diagnostics,
        problems=tuple(problems),
        notes=notes,
    )


def _counts(data: Any, policy: Any) -> Counts:
    from d2tools.lint import _entries

    if not isinstance(data, dict):
        return Counts()
    meta = _entries.mapping(data.get("metadata"))
    groups = _entries.mapping(meta.get("tool_groups"))
    flow = _entries.mapping(meta.get("data_flow"))
    flow_rules = sum(len(v) for v in flow.values() if isinstance(v, dict))
    roles = {r for e in _entries.role_entries(data) for r in e.roles}
    return Counts(
        roles=len(roles),
        tools=len(policy.known_tools) if policy is not None else 0,
        groups=len(groups),
        grants=sum(1 for _ in _entries.permissions(data)),
        sequence_rules=sum(1 for _ in _entries.sequence_rules(data)),
        data_flow_rules=flow_rules,
    )


def _mode_notes(explicit: Path | None) -> tuple[str, ...]:
    if explicit is None and os.environ.get("D2_TOKEN"):
        return ("D2_TOKEN is set: the runtime uses the cloud bundle, not a local file, unless given a path",)
    return ()
