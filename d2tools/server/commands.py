"""Typer groups ``d2 bundle`` (static hosting: keygen, jwks, sign, verify) and ``d2 serve`` (control plane).

Registered by :mod:`d2tools.cli.cmd_cloud`; imported only by the CLI, so the server extra alone does
not need Typer (``python -m d2tools.server`` offers the same administration with argparse).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from d2tools.cli._common import EXIT_USAGE, emit, emit_json, fail, make_console

from . import admin

__all__ = ["bundle_app", "serve_app"]

bundle_app = typer.Typer(
    help="Sign and verify policy bundles with local keys, for static hosting.", no_args_is_help=True
)
serve_app = typer.Typer(help="Run and administer the self-hostable control plane.")

KeyOpt = Annotated[Path, typer.Option("--key", help="Ed25519 private key (PEM), from `d2 bundle keygen`.")]
DbOpt = Annotated[str, typer.Option("--db", help="SQLite file path, or postgresql://... URL.")]
SchemaOpt = Annotated[str | None, typer.Option("--schema", help="PostgreSQL schema (default d2).")]
TtlOpt = Annotated[str, typer.Option("--bundle-ttl", help="Bundle lifetime: 7d, 12h, 300s ...")]


def _password() -> bytes | None:
    raw = os.environ.get("D2_BUNDLE_KEY_PASSPHRASE")
    return raw.encode("utf-8") if raw else None


def _load_key(path: Path):  # type: ignore[no-untyped-def]
    from d2._jwks import load_private_key
    from d2.exceptions import D2Error

    try:
        return load_private_key(path.read_bytes(), _password())
    except (OSError, D2Error) as exc:
        fail(f"{path}: {exc}", code=EXIT_USAGE)


@bundle_app.command("keygen")
def keygen(output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the key.")]) -> None:
    """Create an Ed25519 signing key (mode 0600) and print its kid."""
    from d2._jwks import generate_private_key, key_id, private_key_pem

    key = generate_private_key()
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fail(f"{output} exists; refusing to overwrite a key", code=EXIT_USAGE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_key_pem(key, _password()))
    emit(key_id(key.public_key()))


@bundle_app.command("jwks")
def jwks(
    keys: Annotated[list[Path], typer.Option("--key", help="Private or public key(s) to publish; repeat.")],
    output: Annotated[Path | None, typer.Option("-o", "--output")] = None,
) -> None:
    """Write the JWKS for KEY(s): keep a retired key listed until the bundles it signed have expired."""
    from d2._jwks import jwks_document

    document = jwks_document([_load_key(k).public_key() for k in keys])
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if output is None:
        emit(text)
    else:
        output.write_text(text, encoding="utf-8")


@bundle_app.command("sign")
def sign(
    file: Annotated[Path, typer.Argument(help="Policy file to sign.")],
    key: KeyOpt,
    app: Annotated[str, typer.Option("--app", help="App name bound into the bundle.")],
    version: Annotated[int, typer.Option("--version", min=1, help="Bundle version: raise it on every sign.")],
    ttl: Annotated[str, typer.Option("--ttl", help="Lifetime: SDKs refuse the bundle after it.")] = "30d",
    audience: Annotated[str | None, typer.Option("--audience")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output")] = None,
) -> None:
    """Lint and sign FILE as a compact JWS bundle (serve it with the JWKS from any static host)."""
    from d2._bundle import DEFAULT_AUDIENCE, sign_bundle
    from d2._jwks import key_id
    from d2tools.server.policies import validate

    text = file.read_text(encoding="utf-8")
    diagnostics = validate(text, str(file))
    for d in diagnostics:
        make_console(stderr=True).print(d["rendered"], markup=False)
    if any(d["severity"] == "error" for d in diagnostics):
        fail(f"{file} does not lint clean; nothing was signed")
    private = _load_key(key)
    token = sign_bundle(
        text,
        app=app,
        version=version,
        private_key=private,
        kid=key_id(private.public_key()),
        ttl=admin.parse_duration(ttl),
        audience=audience or DEFAULT_AUDIENCE,
        policy_format="json" if file.suffix.lower() == ".json" else "yaml",
    )
    if output is None:
        emit(token)
    else:
        output.write_text(token + "\n", encoding="ascii")


@bundle_app.command("verify")
def verify(
    bundle: Annotated[Path, typer.Argument(help="The .jws bundle file.")],
    jwks_source: Annotated[str, typer.Option("--jwks", help="JWKS file or URL.")],
    audience: Annotated[str | None, typer.Option("--audience")] = None,
) -> None:
    """Verify a bundle exactly as the SDK does and print its claims (exit 1 if it does not verify)."""
    from d2._bundle import DEFAULT_AUDIENCE, verify_bundle
    from d2._cloud_http import http_get
    from d2._jwks import parse_jwks
    from d2.exceptions import D2Error

    try:
        if jwks_source.startswith(("http://", "https://")):
            document = http_get(jwks_source).json()
        else:
            document = json.loads(Path(jwks_source).read_text(encoding="utf-8"))
        verified = verify_bundle(
            bundle.read_bytes(), parse_jwks(document), audience=audience or DEFAULT_AUDIENCE
        )
    except (D2Error, OSError, ValueError) as exc:
        fail(f"{bundle}: {exc}")
    emit_json(
        {
            "app": verified.app,
            "version": verified.version,
            "kid": verified.kid,
            "issued_at": verified.issued_at,
            "expires_at": verified.expires_at,
            "revoked": verified.revoked,
            "policy_sha256": verified.policy_sha256,
        }
    )


@serve_app.callback(invoke_without_command=True)
def serve(
    ctx: typer.Context,
    db: Annotated[str | None, typer.Option("--db", help="SQLite file path, or postgresql://... URL.")] = None,
    schema: SchemaOpt = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8787,
    bundle_ttl: TtlOpt = "7d",
    poll_interval: Annotated[float, typer.Option("--poll-interval", help="Suggested to SDKs (s).")] = 30.0,
    require_device_key: Annotated[bool, typer.Option("--require-device-key")] = False,
) -> None:
    """Run the control plane (SQLite file, or PostgreSQL for several replicas)."""
    if ctx.invoked_subcommand is not None:
        return
    if db is None:
        fail("--db is required: a SQLite file path or a postgresql:// URL", code=EXIT_USAGE)
    from .config import ServerConfig

    config = ServerConfig(
        db=db,
        schema=schema,
        host=host,
        port=port,
        bundle_ttl=admin.parse_duration(bundle_ttl),
        poll_interval=poll_interval,
        require_device_key=require_device_key,
    )
    make_console(stderr=True).print(f"d2 control plane on http://{host}:{port}")
    admin.run_server(config)


@serve_app.command("init")
def init(db: DbOpt, schema: SchemaOpt = None, bundle_ttl: TtlOpt = "7d") -> None:
    """Create the tables and the first signing key (idempotent); print the active key id."""
    emit(admin.init_storage(db, schema, bundle_ttl=admin.parse_duration(bundle_ttl)))


@serve_app.command("create-app")
def create_app(name: Annotated[str, typer.Argument()], db: DbOpt, schema: SchemaOpt = None) -> None:
    """Create an app."""
    try:
        emit(admin.create_app_named(db, name, schema).name)
    except ValueError as exc:
        fail(str(exc), code=EXIT_USAGE)


@serve_app.command("issue-token")
def issue_token(
    db: DbOpt,
    kind: Annotated[str, typer.Option("--kind", help="runtime (ship with services) or developer (CI/ops).")],
    app: Annotated[
        str | None, typer.Option("--app", help="The app; omit for an all-apps developer token.")
    ] = None,
    schema: SchemaOpt = None,
) -> None:
    """Issue a token and print it once (only its hash is stored)."""
    try:
        emit(admin.issue(db, kind, app, schema))
    except ValueError as exc:
        fail(str(exc), code=EXIT_USAGE)


@serve_app.command("rotate-key")
def rotate_key(db: DbOpt, schema: SchemaOpt = None, bundle_ttl: TtlOpt = "7d") -> None:
    """Make a new signing key active; the old one stays in the JWKS until its bundles expire."""
    emit(admin.rotate_key(db, schema, bundle_ttl=admin.parse_duration(bundle_ttl)))
