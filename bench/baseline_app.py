"""The baseline: bare Starlette routes doing the handlers' work in-process, on faas serve's uvicorn settings.

``python -m bench.baseline_app --port N``. The routes mirror what the suite sends to faas:
``GET /hello/{name}`` does what the hello handler does, and ``POST /2015-03-31/functions/{name}/invocations``
checks the bearer token, parses the JSON payload and answers what the noop handler answers.
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import uuid

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def create_app(admin_key: str) -> Starlette:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def hello(request: Request) -> Response:
        name = request.path_params["name"]
        body = json.dumps({"message": f"Hello, {name}!", "requestId": str(uuid.uuid4())})
        return Response(body, media_type="application/json")

    async def invoke(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), admin_key.encode()):
            return JSONResponse({"message": "Missing Authentication Token"}, 403)
        event = json.loads(await request.body() or b"{}")
        del event
        return Response(json.dumps({"ok": True}), media_type="application/json")

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET", "HEAD"]),
            Route("/hello/{name}", hello, methods=["GET"]),
            Route("/2015-03-31/functions/{name:path}/invocations", invoke, methods=["POST"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = create_app(os.environ.get("FAAS_ADMIN_KEY", ""))
    # The settings faas/cli/serve.py gives uvicorn, with the loop and parser its "auto" resolves to.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=args.port,
        lifespan="on",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=30,
        loop="uvloop",
        http="httptools",
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
