"""Cloud commands: ``d2 draft/publish/pull/revoke/switch/status``, ``d2 bundle ...`` and ``d2 serve ...``.

The policy commands talk to ``D2_API_URL`` with ``D2_TOKEN``; ``d2 bundle`` signs and verifies
bundles with local keys for static hosting (serve the JWS and the JWKS from any HTTP server or object
store); ``d2 serve`` runs and administers the self-hostable control plane.
"""

from __future__ import annotations

import json
import os
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from ._common import EXIT_USAGE, TextJson, emit, emit_json, fail, make_console

__all__ = ["AppOpt", "PolicyFormat", "YesOpt", "confirm", "register"]


class PolicyFormat(str, Enum):
    """The two formats a policy file is written in."""

    YAML = "yaml"
    JSON = "json"

    def __str__(self) -> str:
        return self.value


AppOpt = Annotated[
    str | None,
    typer.Option(
        "--app", "--app-name", help="App name (default: `d2 switch` choice, else D2_APP).", show_default=False
    ),
]
YesOpt = Annotated[
    bool, typer.Option("--yes", "-y", help="Do it without asking (needed when not on a terminal).")
]


def confirm(question: str, yes: bool) -> None:
    """Ask before a destructive step; off a terminal, refuse unless ``--yes`` was given."""
    import sys

    if yes:
        return
    if not sys.stdin.isatty():
        fail(f"{question} Not on a terminal, so not asked: pass --yes to confirm", code=EXIT_USAGE)
    if not typer.confirm(question, default=False):
        fail("cancelled; nothing was changed", code=EXIT_USAGE)


def _client(app: str | None = None) -> Any:
    from d2tools.cloud.client import Client, load_cli_state

    url, token = os.environ.get("D2_API_URL"), os.environ.get("D2_TOKEN")
    if not url:
        fail(
            "D2_API_URL is not set: point it at your control plane (e.g. http://127.0.0.1:8787)",
            code=EXIT_USAGE,
        )
    if not token:
        fail(
            "D2_TOKEN is not set: use a developer token (d2_dev_...) to draft/publish/revoke", code=EXIT_USAGE
        )
    chosen = app or os.environ.get("D2_APP") or load_cli_state().app
    return Client(url, token, app=chosen)


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    from d2.exceptions import D2Error

    try:
        return fn(*args, **kwargs)
    except D2Error as exc:
        fail(str(exc))


def _policy_file(file: Path | None) -> Path:
    from d2._toolkit import discover_policy
    from d2.exceptions import D2Error

    try:
        return discover_policy(file).path
    except D2Error as exc:
        fail(str(exc), code=EXIT_USAGE)


def _fmt(path: Path) -> str:
    return "json" if path.suffix.lower() == ".json" else "yaml"


def _lint(text: str, label: str) -> bool:
    """Lint with the same compiler the server and the runtime use; print every diagnostic."""
    from d2tools.server.policies import validate

    console = make_console(stderr=True)
    diagnostics = validate(text, label)
    for d in diagnostics:
        console.print(d["rendered"], markup=False)
    return not any(d["severity"] == "error" for d in diagnostics)


def _remember(app: str, etag: str) -> None:
    from d2tools.cloud.client import load_cli_state, save_cli_state

    state = load_cli_state()
    state.etags = {**(state.etags or {}), app: etag}
    save_cli_state(state)


def draft(file: Annotated[Path | None, typer.Argument()] = None, app: AppOpt = None) -> None:
    """Upload a policy draft (needs a developer token with policy:write)."""
    path = _policy_file(file)
    answer = _call(_client(app).put_draft, path.read_text(encoding="utf-8"), _fmt(path))
    for d in answer["diagnostics"]:
        make_console(stderr=True).print(d["rendered"], markup=False)
    make_console().print(f"draft of {answer['app']} saved ({'valid' if answer['valid'] else 'has errors'})")


def publish(
    file: Annotated[Path | None, typer.Argument(help="Policy file (default: discovered policy).")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Lint and show the target; publish nothing.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Publish over whatever version is current.")] = False,
    from_draft: Annotated[bool, typer.Option("--from-draft", help="Publish the server-side draft.")] = False,
    if_match: Annotated[
        str | None, typer.Option("--if-match", help="ETag you edited (default: last pull).")
    ] = None,
    app: AppOpt = None,
) -> None:
    """Lint, then sign and publish a policy; refuses (412) when someone published since your last pull."""
    client = _client(app)
    body: dict[str, Any] = {"from_draft": True}
    if not from_draft:
        path = _policy_file(file)
        text = path.read_text(encoding="utf-8")
        if not _lint(text, str(path)):
            fail(f"{path} does not lint clean; nothing was published")
        body = {"policy": text, "format": _fmt(path)}
    status = _call(client.status)
    head = status.get("head")
    etag = if_match or _expected_etag(status["app"], head, force)
    if dry_run:
        make_console().print(
            f"dry run: would publish to {status['app']} as v{(head or {}).get('version', 0) + 1}"
            f" (If-Match {etag or 'none: first publish'})"
        )
        return
    response = _call(client.publish, body, etag=etag)
    answer = response.json()
    if response.status == 412:
        fail(f"{answer['message']} (or use --force)")
    if response.status == 422:
        for d in answer.get("diagnostics", []):
            make_console(stderr=True).print(d["rendered"], markup=False)
        fail(answer["message"])
    _remember(answer["app"], answer["etag"])
    make_console().print(f"published {answer['app']} v{answer['version']} (ETag {answer['etag']})")


def _expected_etag(app: str, head: dict[str, Any] | None, force: bool) -> str | None:
    from d2tools.cloud.client import load_cli_state

    if head is None:
        return None
    if force:
        return str(head["etag"])
    known = (load_cli_state().etags or {}).get(app)
    if known is None:
        fail(
            f"{app} already has v{head['version']} and you have not pulled it: run `d2 pull` first, "
            "or publish with --force to replace it"
        )
    return known


def pull(
    output: Annotated[
        str, typer.Option("-o", "--output", metavar="FILE", help="Where to write the policy; - for stdout.")
    ] = "policy.yaml",
    fmt: Annotated[
        PolicyFormat | None, typer.Option("--format", "-f", help="yaml or json (default: as published).")
    ] = None,
    stage: Annotated[
        str, typer.Option("--stage", help="published (verified bundle) or draft.")
    ] = "published",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing local file.")] = False,
    app: AppOpt = None,
) -> None:
    """Download the app's policy: the published bundle (signature verified) or the draft."""
    from d2._toolkit import parse_jwks, verify_bundle

    if output != "-" and Path(output).exists() and not force:
        fail(f"{output} exists: pass --force to overwrite it, or -o - to print the policy", code=EXIT_USAGE)
    client = _client(app)
    if stage == "draft":
        answer = _call(client.get_draft)
        text, source_fmt, label = answer["policy"], answer["format"], f"draft of {answer['app']}"
    elif stage == "published":
        response = _call(client.bundle)
        bundle = _call(verify_bundle, response.body, parse_jwks(_call(client.jwks)))
        if bundle.revoked or bundle.policy_text is None:
            fail(f"{bundle.app} v{bundle.version} is revoked: there is no policy to pull")
        text, source_fmt, label = bundle.policy_text, bundle.policy_format, f"{bundle.app} v{bundle.version}"
        _remember(bundle.app, response.headers.get("etag", ""))
    else:
        fail("--stage must be published or draft", code=EXIT_USAGE)
    converted = _convert(text, source_fmt, fmt.value if fmt else source_fmt)
    if output == "-":
        emit(converted)
        return
    Path(output).write_text(converted, encoding="utf-8")
    make_console(stderr=True).print(f"wrote {label} to {output}", markup=False)


def _convert(text: str, source: str, target: str) -> str:
    if target not in ("yaml", "json"):
        fail("--format must be yaml or json", code=EXIT_USAGE)
    if source == target:
        return text
    from d2._toolkit import parse_policy_text

    data = parse_policy_text(text, "pulled").data
    if target == "json":
        return json.dumps(data, indent=2) + "\n"
    import io

    from ruamel.yaml import YAML

    out = io.StringIO()
    YAML(typ="safe", pure=True).dump(data, out)
    return out.getvalue()


def revoke(
    restore: Annotated[
        int | None, typer.Option("--restore", help="Re-issue this older version instead (see `d2 history`).")
    ] = None,
    yes: YesOpt = False,
    app: AppOpt = None,
) -> None:
    """Revoke the latest policy: SDKs refuse every guarded call (or, with --restore N, go back to vN)."""
    client = _client(app)
    name = client.app or "the token's app"
    if restore is None:
        confirm(f"Revoke the policy of {name}? Every guarded call will be refused.", yes)
    else:
        confirm(f"Replace the policy of {name} with v{restore}?", yes)
    answer = _call(client.revoke, restore)
    _remember(answer["app"], answer["etag"])
    what = f"restored v{restore} as" if restore is not None else "revoked; now"
    make_console().print(f"{answer['app']} v{answer['revoked_version']} {what} v{answer['version']}")


def switch(name: Annotated[str, typer.Argument(help="The app to work on.")]) -> None:
    """Make APP the default app of later commands (checked against the server)."""
    from d2tools.cloud.client import load_cli_state, save_cli_state

    apps = [a["name"] for a in _call(_client(None).apps)]
    if name not in apps:
        fail(f"no app {name!r} visible to this token; known: {', '.join(apps) or 'none'}")
    state = load_cli_state()
    state.app = name
    save_cli_state(state)
    make_console().print(f"now working on {name}")


def status(
    output_format: Annotated[TextJson, typer.Option("--format", "-f", help="text or json.")] = TextJson.TEXT,
    as_json: Annotated[bool, typer.Option("--json", hidden=True, help="Same as --format json.")] = False,
    app: AppOpt = None,
) -> None:
    """Show the app, token, published head, draft, signing keys and the locally cached bundles."""
    answer = _call(_client(app).status)
    answer["local_bundles"] = _local_bundles()
    if as_json or output_format is TextJson.JSON:
        emit_json(answer)
        return
    head = answer["head"]
    console = make_console()
    console.print(
        f"app {answer['app']}  token {answer['token']['kind']} ({' '.join(answer['token']['scopes'])})"
    )
    if head:
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(head["expires_at"]))
        console.print(f"published v{head['version']} ({head['kind']}) ETag {head['etag']} expires {expires}")
    else:
        console.print("nothing published yet")
    console.print(f"draft: {'yes' if answer['draft'] else 'none'}; keys: {', '.join(answer['keys'])}")
    for entry in answer["local_bundles"]:
        console.print(f"cached: {entry}")


def _local_bundles() -> list[str]:
    from d2._toolkit import default_state_path

    path = default_state_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path else {}
    except (OSError, ValueError):
        return []
    return [
        f"{key.split('#')[0]} (saved {time.strftime('%Y-%m-%d %H:%M', time.gmtime(v.get('saved_at', 0)))})"
        for key, v in (data.get("sources") or {}).items()
    ]


def register(app: typer.Typer) -> None:
    """Add the cloud, bundle and serve commands to the ``d2`` app."""
    from d2tools.cli.cmd_serve import bundle_app, serve_app

    for fn in (draft, publish, pull, revoke, switch, status):
        app.command(fn.__name__)(fn)
    app.add_typer(bundle_app, name="bundle")
    app.add_typer(serve_app, name="serve")
