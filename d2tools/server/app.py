"""The control plane's HTTP API (Starlette): bundles, JWKS, drafts, publish, revoke, events, status.

The hot path (``GET /v1/policy/bundle`` answered 304 from a fresh cache) never leaves the event
loop; anything touching storage runs in the thread pool. Errors are JSON
``{"detail": code, "message": sentence}``; 401/403 name the token type the endpoint needs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import policies, versions
from .backends import open_storage
from .bodies import read_body
from .config import ApiError, ServerConfig
from .device import verify_device_signature
from .ingest import MAX_CHUNK_BYTES, ingest, parse_events, throttle
from .ratelimit import RateLimiter
from .service import NEED_DEVELOPER, NEED_RUNTIME, ControlPlane, Principal, Served
from .storage import Storage

__all__ = ["create_app"]

Handler = Callable[[Request], Awaitable[Response]]
_log = logging.getLogger("d2tools.server")


def _error(exc: ApiError) -> JSONResponse:
    body = {"detail": exc.detail, "message": exc.message, **exc.extra}
    return JSONResponse(body, status_code=exc.status, headers=dict(exc.headers))


def _handles_errors(fn: Handler) -> Handler:
    """Map every exception a request can raise to a JSON answer: malformed input is a 4xx, never a 500."""

    async def wrapped(request: Request) -> Response:
        try:
            return await fn(request)
        except ApiError as exc:
            return _error(exc)
        except RecursionError:
            return _error(ApiError(400, "too_deep", "the request is nested too deeply to process"))
        except UnicodeError:
            return _error(ApiError(400, "bad_text", "the request holds text that is not valid Unicode"))
        except (OverflowError, ValueError) as exc:
            return _error(ApiError(400, "bad_request", f"malformed request: {str(exc)[:160]}"))
        except Exception:
            _log.exception("d2 control plane: unexpected error on %s %s", request.method, request.url.path)
            return _error(ApiError(500, "internal_error", "the server failed on this request; see its log"))

    return wrapped


class Api:
    """Route handlers bound to one :class:`ControlPlane`."""

    def __init__(self, cp: ControlPlane) -> None:
        self.cp = cp
        self.ingest_limiter = RateLimiter(cp.config.ingest_rate, cp.config.ingest_burst)
        self._inflight: dict[tuple[Any, ...], asyncio.Future[Any]] = {}

    async def once(self, key: tuple[Any, ...], fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn`` in the thread pool once for every concurrent request that needs the same refresh."""
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(run_in_threadpool(fn, *args))
            self._inflight[key] = future
            future.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(future)

    async def principal(self, request: Request, scope: str, need: str) -> Principal:
        token = self.cp.bearer(request.headers.get("authorization"), need)
        hit, record = self.cp.cached_token(token)
        if not hit:
            record = await self.once(("token", token), self.cp.load_token, token)
        checked = self.cp.check_token(record, scope, need)
        name = request.query_params.get("app") or request.headers.get("x-d2-app")
        if checked.app_id is not None:
            hit, app = self.cp.apps.get(checked.app_id)
            if hit and app is not None and (not name or name == app.name):
                return Principal(checked, app)
        app = await self.once(("app", checked.id, name), self.cp.resolve_app, checked, name)
        return Principal(checked, app)

    async def bundle(self, request: Request) -> Response:
        who = await self.principal(request, "policy:read", NEED_RUNTIME)
        hit, served = self.cp.cached_bundle(who.app.id)
        if not hit:
            served = await self.once(("bundle", who.app.id), self.cp.current_bundle, who.app.id)
        if served is None:
            raise ApiError(
                404,
                "no_published_policy",
                f"app {who.app.name!r} has no published policy yet",
                headers=self._poll_headers(),
            )
        return self._bundle_response(request, served)

    def _poll_headers(self) -> dict[str, str]:
        return {"X-D2-Poll-Interval": f"{self.cp.config.poll_interval:g}", "Cache-Control": "no-cache"}

    def _bundle_response(self, request: Request, served: Served) -> Response:
        headers = {
            **self._poll_headers(),
            "ETag": served.etag,
            "X-D2-Bundle-Version": str(served.version),
            "X-D2-Key-Id": served.kid,
        }
        tags = [t.strip() for t in request.headers.get("if-none-match", "").split(",")]
        if served.etag in tags or "*" in tags:
            return Response(status_code=304, headers=headers)
        return Response(served.token, media_type="application/jose", headers=headers)

    async def jwks(self, request: Request) -> Response:
        document = await run_in_threadpool(self.cp.keys.jwks)
        return JSONResponse(document, headers={"Cache-Control": "public, max-age=60"})

    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def put_draft(self, request: Request) -> Response:
        who = await self.principal(request, "policy:write", NEED_DEVELOPER)
        raw = await read_body(request, self.cp.config.max_policy_bytes)
        data = policies.parse_body(raw, self.cp.config.max_policy_bytes)
        return JSONResponse(await run_in_threadpool(policies.put_draft, self.cp, who, data))

    async def get_draft(self, request: Request) -> Response:
        who = await self.principal(request, "policy:write", NEED_DEVELOPER)
        return JSONResponse(await run_in_threadpool(policies.get_draft, self.cp, who))

    async def publish(self, request: Request) -> Response:
        who = await self.principal(request, "policy:write", NEED_DEVELOPER)
        raw = await read_body(request, self.cp.config.max_policy_bytes)
        data = policies.parse_body(raw, self.cp.config.max_policy_bytes)

        def work() -> dict[str, Any]:
            device = verify_device_signature(self.cp, who, request, raw)
            return policies.publish(
                self.cp,
                who,
                data,
                if_match=request.headers.get("if-match"),
                if_none_match=request.headers.get("if-none-match"),
                device_kid=device,
            )

        answer = await run_in_threadpool(work)
        return JSONResponse(answer, status_code=201, headers={"ETag": answer["etag"]})

    async def revoke(self, request: Request) -> Response:
        who = await self.principal(request, "policy:write", NEED_DEVELOPER)
        raw = await read_body(request, policies.MAX_REVOKE_BYTES)
        data = policies.parse_body(raw, policies.MAX_REVOKE_BYTES)

        def work() -> dict[str, Any]:
            device = verify_device_signature(self.cp, who, request, raw)
            if_match = request.headers.get("if-match")
            return policies.revoke(self.cp, who, data, if_match=if_match, device_kid=device)

        answer = await run_in_threadpool(work)
        return JSONResponse(answer, status_code=201, headers={"ETag": answer["etag"]})

    async def status(self, request: Request) -> Response:
        who = await self.principal(request, "policy:read", NEED_RUNTIME)
        return JSONResponse(await run_in_threadpool(policies.status, self.cp, who))

    async def versions(self, request: Request) -> Response:
        who = await self.principal(request, "policy:write", NEED_DEVELOPER)
        limit = request.query_params.get("limit", "20")
        if not limit.isdigit():
            raise ApiError(400, "bad_limit", "limit must be a positive integer")
        return JSONResponse(await run_in_threadpool(versions.list_versions, self.cp, who, int(limit)))

    async def version(self, request: Request) -> Response:
        who = await self.principal(request, "policy:write", NEED_DEVELOPER)
        raw = str(request.path_params["version"])
        return JSONResponse(await run_in_threadpool(versions.get_version, self.cp, who, raw))

    async def apps(self, request: Request) -> Response:
        token = self.cp.bearer(request.headers.get("authorization"), NEED_DEVELOPER)
        record = self.cp.check_token(
            await run_in_threadpool(self.cp.load_token, token), "policy:read", NEED_RUNTIME
        )
        apps = await run_in_threadpool(self.cp.storage.list_apps)
        visible = [a for a in apps if record.app_id is None or a.id == record.app_id]
        return JSONResponse({"apps": [{"name": a.name, "head_version": a.head_version} for a in visible]})

    async def ingest(self, request: Request) -> Response:
        who = await self.principal(request, "events:write", NEED_RUNTIME)
        raw = await read_body(request, MAX_CHUNK_BYTES)
        throttle(self.ingest_limiter, who)
        events = parse_events(raw)
        return JSONResponse(await run_in_threadpool(ingest, self.cp, who, events), status_code=202)


def create_app(config: ServerConfig, storage: Storage | None = None) -> Starlette:
    """Build the ASGI app over ``storage`` (opened from ``config.db`` when not given)."""
    store = storage or open_storage(config.db, schema=config.schema)
    api = Api(ControlPlane(store, config))
    routes = [
        Route("/healthz", _handles_errors(api.health), methods=["GET"]),
        Route("/.well-known/jwks.json", _handles_errors(api.jwks), methods=["GET"]),
        Route("/v1/policy/bundle", _handles_errors(api.bundle), methods=["GET"]),
        Route("/v1/policy/draft", _handles_errors(api.put_draft), methods=["PUT"]),
        Route("/v1/policy/draft", _handles_errors(api.get_draft), methods=["GET"]),
        Route("/v1/policy/publish", _handles_errors(api.publish), methods=["POST"]),
        Route("/v1/policy/revoke", _handles_errors(api.revoke), methods=["POST"]),
        Route("/v1/status", _handles_errors(api.status), methods=["GET"]),
        Route("/v1/policy/versions", _handles_errors(api.versions), methods=["GET"]),
        Route("/v1/policy/versions/{version}", _handles_errors(api.version), methods=["GET"]),
        Route("/v1/apps", _handles_errors(api.apps), methods=["GET"]),
        Route("/v1/events/ingest", _handles_errors(api.ingest), methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.control_plane = api.cp
    return app
