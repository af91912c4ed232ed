"""Typer groups ``d2 bundle`` (static hosting: keygen, jwks, sign, verify) and ``d2 serve`` (control plane).

Registered by :mod:`d2tools.cli.cmd_cloud`; lives in the CLI, so the server extra alone does
not need Typer (``python -m d2tools.server`` offers the same administration with argparse).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from d2tools.cli._common import EXIT_USAGE, emit, emit_json, fail, make_console
from d2tools.server import admin

__all__ = ["bundle_app", "serve_app"]

bundle_app = typer.Typer(
    help="Sign and verify policy bundles with local keys, for static hosting.", no_args_is_help=True
)
serve_app = typer.Typer(help="Run and administer the self-hostable control plane.")

KeyOpt = Annotated[Path, typer.Option("--key", help="Ed25519 private key (PEM), from `d2 bundle keygen`.")]
DB_ENV = "D2_SERVER_DB"
_DB_HELP = f"SQLite file path, or postgresql://... URL [default: ${DB_ENV}, else [tool.d2.serve] db]"


def _configured_db() -> str | None:
    """``[tool.d2.serve] db`` from pyproject.toml or .d2.toml (the environment variable comes first)."""
    from d2tools.cli._common import load_settings

    value = load_settings().serve.get("db")
    return str(value) if value else None


def _db_default() -> str:
    db = _configured_db()
    if db is None:
        fail(
            f"--db is required: a SQLite file path or a postgresql:// URL (or set {DB_ENV})", code=EXIT_USAGE
        )
    return db


DbOpt = Annotated[
    str, typer.Option("--db", envvar=DB_ENV, default_factory=_db_default, show_default=False, help=_DB_HELP)
]
SchemaOpt = Annotated[str | None, typer.Option("--schema", help="PostgreSQL schema (default d2).")]
TtlOpt = Annotated[str, typer.Option("--bundle-ttl", help="Bundle lifetime: 7d, 12h, 300s ...")]


def _password() -> bytes | None:
    raw = os.environ.get("D2_BUNDLE_KEY_PASSPHRASE")
    return raw.encode("utf-8") if raw else None


def _load_key(path: Path):  # type: ignore[no-untyped-def]
    from d2._toolkit import load_private_key
    from d2.exceptions import D2Error

    try:
        return load_private_key(path.read_bytes(), _password())
    except (OSError, D2Error) as exc:
        fail(f"{path}: {exc}", code=EXIT_USAGE)


@bundle_app.command("keygen")
def keygen(output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the key.")]) -> None:
    """Create an Ed25519 signing key (mode 0600) and print its kid."""
    from d2._toolkit import generate_private_key, key_id, private_key_pem

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
    """Write the JWKS for KEY(s), endorsed by each: keep a retired key listed until its bundles expire."""
    from d2._toolkit import jwks_document

    loaded = [_load_key(k) for k in keys]
    document = jwks_document([k.public_key() for k in loaded], signers=loaded)
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
    from d2._toolkit import DEFAULT_AUDIENCE, key_id, sign_bundle
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
    from d2._toolkit import DEFAULT_AUDIENCE, http_get, parse_jwks, verify_bundle
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
    db: Annotated[str | None, typer.Option("--db", envvar=DB_ENV, show_default=False, help=_DB_HELP)] = None,
    schema: SchemaOpt = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8787,
    bundle_ttl: TtlOpt = "7d",
    poll_interval: Annotated[float, typer.Option("--poll-interval", help="Suggested to SDKs (s).")] = 30.0,
    cache_ttl: Annotated[float, typer.Option("--cache-ttl", help="Per-replica cache lifetime (s).")] = 1.0,
    audience: Annotated[str | None, typer.Option("--audience", help="Bundle audience (default d2).")] = None,
    issuer: Annotated[str | None, typer.Option("--issuer", help="Bundle issuer claim.")] = None,
    ingest_rate: Annotated[
        float, typer.Option("--ingest-rate", help="Event chunks per second per token.")
    ] = 20.0,
    ingest_burst: Annotated[int, typer.Option("--ingest-burst", help="Event chunk burst per token.")] = 40,
    require_device_key: Annotated[bool, typer.Option("--require-device-key")] = False,
) -> None:
    """Run the control plane (SQLite file, or PostgreSQL for several replicas)."""
    if ctx.invoked_subcommand is not None:
        return
    db = db or _db_default()
    from d2._toolkit import DEFAULT_AUDIENCE
    from d2tools.server.config import ServerConfig

    config = ServerConfig(
        db=db,
        schema=schema,
        host=host,
        port=port,
        audience=audience or DEFAULT_AUDIENCE,
        issuer=issuer,
        bundle_ttl=admin.parse_duration(bundle_ttl),
        poll_interval=poll_interval,
        cache_ttl=cache_ttl,
        ingest_rate=ingest_rate,
        ingest_burst=ingest_burst,
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


@serve_app.command("register-device-key")
def register_device_key(
    public_key: Annotated[str, typer.Argument(help="base64url raw Ed25519 key from `d2 serve device-key`.")],
    db: DbOpt,
    schema: SchemaOpt = None,
) -> None:
    """Accept a publisher's device key (the only way in with --require-device-key); print its kid."""
    try:
        emit(admin.register_device_key(db, public_key, schema))
    except ValueError as exc:
        fail(f"{exc}: expected an Ed25519 public key as `d2 serve device-key` prints it", code=EXIT_USAGE)


@serve_app.command("device-key")
def show_device_key() -> None:
    """Print this machine's publisher device key (created on first use) for an administrator to register."""
    from d2tools.cloud.client import device_key, public_key_text

    emit(public_key_text(device_key()))
