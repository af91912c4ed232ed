"""What one ``d2 tui`` run opens: the policy, bundles, coverage, a diff target and decision sources.

:func:`open_session` is the only place that turns command-line options into loaded data; the app
factory, the command and the tests all go through it. Nothing here raises for a bad policy or an
unreachable source: problems become diagnostics or notes the views show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from d2.exceptions import D2Error

from .bundles.diff import PolicyDiff, diff_docs
from .bundles.read import BundleRead, is_bundle_text, pull_bundle, read_bundle, read_state_bundles
from .coverage.report import Coverage, load_coverage
from .live.feed import DecisionFeed
from .loaded import LoadedPolicy, load_path_policy, load_text_policy

__all__ = ["Session", "TuiOptions", "open_session"]


@dataclass(frozen=True, slots=True)
class TuiOptions:
    """Everything ``d2 tui`` accepts; tests build one directly."""

    path: Path | None = None
    state: bool = False
    state_path: Path | None = None
    server: str | None = None
    app: str | None = None
    jwks: Path | None = None
    diff: Path | None = None
    coverage: Path | None = None
    logs: tuple[Path, ...] = ()
    streams: tuple[str, ...] = ()
    demo: bool = False
    now: datetime | None = None


@dataclass
class Session:
    """The loaded data the views read; ``policy`` may be swapped (open another bundle)."""

    options: TuiOptions
    policy: LoadedPolicy
    bundles: list[tuple[BundleRead, LoadedPolicy | None]] = field(default_factory=list)
    coverage: Coverage | None = None
    diff: PolicyDiff | None = None
    notes: list[str] = field(default_factory=list)
    feed: DecisionFeed = field(default_factory=DecisionFeed)


def open_session(options: TuiOptions, *, lint: bool = True) -> Session:
    """Load what ``options`` name; the first policy found is the one the views open on.

    ``lint=False`` leaves a policy file's lint checks to the caller (``LoadedPolicy.linted`` says so):
    the app runs them after its first frame on a large policy.
    """
    notes: list[str] = []
    bundles: list[tuple[BundleRead, LoadedPolicy | None]] = []
    diff: PolicyDiff | None = None
    if options.demo:
        from .demo.agent import demo_policy_path

        policy = load_path_policy(demo_policy_path(), now=options.now)
        _demo_bundles(options, bundles, notes)
    elif options.server and options.path is not None:
        # Before `d2 publish`: the local file on screen, the published bundle as the diff's old side.
        policy = _from_path(options, options.path, bundles, notes)
        published = _from_server(options, bundles, notes)
        if published.doc is not None and policy.doc is not None:
            diff = diff_docs(published.doc, policy.doc)
    elif options.server:
        policy = _from_server(options, bundles, notes)
    elif options.state:
        policy = _from_state(options, bundles, notes)
    else:
        policy = _from_path(options, options.path, bundles, notes, lint=lint)
    session = Session(options, policy, bundles, diff=diff, notes=notes)
    if options.demo and len(bundles) == 2:
        old, new = bundles[1][1], bundles[0][1]
        if old is not None and new is not None and old.doc is not None and new.doc is not None:
            session.diff = diff_docs(old.doc, new.doc)
    if options.coverage is not None:
        try:
            session.coverage = load_coverage(options.coverage, policy.file)
        except D2Error as exc:
            notes.append(str(exc))
    if options.diff is not None:
        _diff(session, options.diff, notes)
    return session


def load_any(
    path: Path,
    options: TuiOptions,
    bundles: list[tuple[BundleRead, LoadedPolicy | None]],
    *,
    lint: bool = True,
) -> LoadedPolicy:
    """A policy file, or a signed bundle file (verified with ``--jwks`` when given)."""
    try:
        head = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise D2Error(f"cannot read {path}: {exc.strerror or exc}; check the path") from exc
    if not is_bundle_text(head):
        return load_path_policy(path, now=options.now, lint=lint)
    jwks = None
    if options.jwks is not None:
        import json

        try:
            jwks = json.loads(options.jwks.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise D2Error(f"cannot read the key set {options.jwks}: {exc}; pass a JWKS JSON file") from exc
    read = read_bundle(head, str(path), jwks=jwks)
    loaded = _bundle_policy(read, options)
    bundles.append((read, loaded))
    return loaded or _empty(str(path), read.info.why)


def _from_path(
    options: TuiOptions,
    path: Path | None,
    bundles: list[tuple[BundleRead, LoadedPolicy | None]],
    notes: list[str],
    *,
    lint: bool = True,
) -> LoadedPolicy:
    if path is None:
        from d2._toolkit import discover_policy

        try:
            found = discover_policy(None)
        except D2Error as exc:
            notes.append(str(exc))
            return _empty("(no policy)", str(exc))
        notes.append(f"opened {found.path} (found via {found.how}, as the runtime would)")
        path = found.path
    try:
        return load_any(path, options, bundles, lint=lint)
    except D2Error as exc:
        notes.append(str(exc))
        return _empty(str(path), str(exc))


def _from_state(
    options: TuiOptions, bundles: list[tuple[BundleRead, LoadedPolicy | None]], notes: list[str]
) -> LoadedPolicy:
    try:
        found = read_state_bundles(options.state_path)
    except D2Error as exc:
        notes.append(str(exc))
        return _empty("(bundle state)", str(exc))
    if not found:
        message = "no cached bundles: the SDK saves them after its first successful poll (D2_STATE_PATH)"
        notes.append(message)
        return _empty("(bundle state)", message)
    # Newest first: the version the SDK would be running is the one to open.
    for read in sorted(found, key=lambda r: -(r.info.version or 0)):
        bundles.append((read, _bundle_policy(read, options)))
    first = next((p for r, p in bundles if r.info.verified and p is not None), None)
    return (
        first
        or next((p for _, p in bundles if p is not None), None)
        or _empty("(bundle state)", found[0].info.why)
    )


def _from_server(
    options: TuiOptions, bundles: list[tuple[BundleRead, LoadedPolicy | None]], notes: list[str]
) -> LoadedPolicy:
    assert options.server is not None
    try:
        read = pull_bundle(options.server, options.app)
    except D2Error as exc:
        notes.append(str(exc))
        return _empty(options.server, str(exc))
    loaded = _bundle_policy(read, options)
    bundles.append((read, loaded))
    return loaded or _empty(options.server, read.info.why)


def _demo_bundles(
    options: TuiOptions, bundles: list[tuple[BundleRead, LoadedPolicy | None]], notes: list[str]
) -> None:
    try:
        from .demo.bundles import demo_bundles

        reads = demo_bundles(options.now.timestamp() if options.now is not None else None)
    except ImportError as exc:  # the signing libraries come with the 'cloud' extra
        notes.append(f"demo bundles skipped ({exc}); pip install 'd2-guard[cloud]' to see them")
        return
    for read in reads:
        bundles.append((read, _bundle_policy(read, options)))


def _bundle_policy(read: BundleRead, options: TuiOptions) -> LoadedPolicy | None:
    if read.policy_text is None:
        return None
    label = f"bundle:{read.info.app or '?'}@v{read.info.version if read.info.version is not None else '?'}"
    return load_text_policy(read.policy_text, label, bundle=read.info, now=options.now)


def _diff(session: Session, other: Path, notes: list[str]) -> None:
    try:
        old = load_any(other, session.options, session.bundles)
    except D2Error as exc:
        notes.append(str(exc))
        return
    if old.doc is None or session.policy.doc is None:
        notes.append(f"cannot diff {other}: one side did not parse (see its diagnostics)")
        return
    session.diff = diff_docs(old.doc, session.policy.doc)


def _empty(file: str, message: str) -> LoadedPolicy:
    from d2._toolkit import Diagnostic
    from d2tools.lint import CODES

    diag = Diagnostic("D2E700", message.splitlines()[0], CODES["D2E700"].severity, file, 1, 1)
    return LoadedPolicy(file, "", None, None, (diag,))
