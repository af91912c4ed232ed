"""``python -m d2tools.server``: run or administer the control plane without the CLI extra.

python -m d2tools.server init --db ./d2.db
python -m d2tools.server create-app billing --db ./d2.db
python -m d2tools.server issue-token --kind runtime --app billing --db ./d2.db
python -m d2tools.server serve --db ./d2.db --port 8787
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import admin
from .config import ServerConfig

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m d2tools.server", description="d2 control plane")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    env_db = os.environ.get("D2_SERVER_DB") or None
    common.add_argument(
        "--db",
        required=env_db is None,
        default=env_db,
        help="SQLite file path, or postgresql://... URL (default: $D2_SERVER_DB)",
    )
    common.add_argument("--schema", default=None, help="PostgreSQL schema (default d2)")
    common.add_argument("--bundle-ttl", default="7d", help="bundle lifetime, e.g. 7d, 12h, 300s")
    serve = sub.add_parser("serve", parents=[common], help="run the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8787)
    serve.add_argument("--poll-interval", type=float, default=30.0, help="interval suggested to SDKs (s)")
    serve.add_argument("--cache-ttl", type=float, default=1.0, help="per-replica cache lifetime (s)")
    serve.add_argument("--audience", default=None)
    serve.add_argument("--issuer", default=None)
    serve.add_argument("--ingest-rate", type=float, default=20.0, help="event chunks per second per token")
    serve.add_argument("--ingest-burst", type=int, default=40)
    serve.add_argument("--require-device-key", action="store_true")
    sub.add_parser("init", parents=[common], help="create tables and the first signing key")
    app = sub.add_parser("create-app", parents=[common], help="create an app")
    app.add_argument("name")
    tok = sub.add_parser("issue-token", parents=[common], help="issue a runtime or developer token")
    tok.add_argument("--kind", choices=["runtime", "developer"], required=True)
    tok.add_argument("--app", default=None, help="the app (omit for an all-apps developer token)")
    sub.add_parser("rotate-key", parents=[common], help="make a new signing key active")
    reg = sub.add_parser(
        "register-device-key", parents=[common], help="accept a publisher's device key (out of band)"
    )
    reg.add_argument("public_key", help="base64url raw Ed25519 public key (`d2 serve device-key` prints it)")
    return parser


def config_from(ns: argparse.Namespace) -> ServerConfig:
    from d2._toolkit import DEFAULT_AUDIENCE

    return ServerConfig(
        db=ns.db,
        schema=ns.schema,
        host=ns.host,
        port=ns.port,
        audience=ns.audience or DEFAULT_AUDIENCE,
        issuer=ns.issuer,
        bundle_ttl=admin.parse_duration(ns.bundle_ttl),
        poll_interval=ns.poll_interval,
        cache_ttl=ns.cache_ttl,
        ingest_rate=ns.ingest_rate,
        ingest_burst=ns.ingest_burst,
        require_device_key=ns.require_device_key,
    )


def main(argv: Sequence[str] | None = None) -> int:
    ns = _parser().parse_args(argv)
    ttl = admin.parse_duration(ns.bundle_ttl)
    try:
        if ns.command == "serve":
            admin.run_server(config_from(ns))
        elif ns.command == "init":
            print(admin.init_storage(ns.db, ns.schema, bundle_ttl=ttl))
        elif ns.command == "create-app":
            print(admin.create_app_named(ns.db, ns.name, ns.schema).name)
        elif ns.command == "issue-token":
            print(admin.issue(ns.db, ns.kind, ns.app, ns.schema))
        elif ns.command == "rotate-key":
            print(admin.rotate_key(ns.db, ns.schema, bundle_ttl=ttl))
        elif ns.command == "register-device-key":
            print(admin.register_device_key(ns.db, ns.public_key, ns.schema))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
