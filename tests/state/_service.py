"""A tools service for the cross-service test: an ASGI app behind d2's middleware, run by uvicorn.

argv: policy path, port. Session state and the signing key come from D2_STATE_URL / D2_SESSION_KEY.
``POST /call/<tool>`` runs the guarded tool and answers ``{"result": ...}`` or ``{"refused": reason}``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import d2

TOOLS = ("db.read", "secrets.read", "notes.write", "web.post", "email.send")


def make(name: str) -> Callable[[], str]:
    async def tool() -> str:
        return f"{name} done"

    return d2.d2_guard(name)(tool)


GUARDED = {name: make(name) for name in TOOLS}


async def call(request: Request) -> JSONResponse:
    tool = request.path_params["tool"]
    try:
        return JSONResponse({"result": await GUARDED[tool]()})
    except d2.PermissionDeniedError as exc:
        return JSONResponse({"refused": str(exc.reason)}, status_code=403)


def build() -> d2.ASGIMiddleware:
    app = Starlette(routes=[Route("/call/{tool}", call, methods=["POST"])])
    return d2.ASGIMiddleware(app, user_extractor=d2.headers_extractor)


if __name__ == "__main__":
    d2.configure_rbac_sync(sys.argv[1])
    uvicorn.run(build(), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
