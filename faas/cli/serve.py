"""``faas serve``: the composition root, which wires the core, the gateway and the scheduler together.

This is the one module of ``faas`` that imports ``gateway`` or ``scheduler`` (tests/test_architecture.py
checks it); everything else in ``faas`` is the core, importable without Starlette, uvicorn or
APScheduler. Those imports are inside ``serve()`` so the other commands start without loading them.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from faas.cli._common import EXIT_FAILED
from faas.config import Config
from faas.locations import local_url


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    serve_p = sub.add_parser("serve", parents=[common], help="serve the functions in config.toml")
    serve_p.add_argument("--host", help="listen address (default: server.host)")
    serve_p.add_argument("--port", type=int, help="listen port (default: server.port)")
    serve_p.set_defaults(run=lambda config, a: serve(config, a.host, a.port))


def serve(config: Config, host: str | None, port: int | None) -> int:
    import uvicorn

    from faas.runtime import Runtime
    from gateway.app import create_app
    from gateway.websocket import MAX_MESSAGE_BYTES
    from scheduler.buckets import BucketWatcher
    from scheduler.cron import CronScheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    port = config.server.port if port is None else port
    # DESIGN's start order: after the core (async queue included), the schedules' clock, then the
    # bucket watches; they stop first.
    runtime = Runtime(config, endpoint_url=local_url(host or config.server.host, port), extensions=[CronScheduler, BucketWatcher])
    app = create_app(runtime)
    uv_config = uvicorn.Config(
        app,
        host=host or config.server.host,
        port=port,
        lifespan="on",
        access_log=config.server.access_log,
        log_config=None,
        timeout_graceful_shutdown=30,
        ws_max_size=MAX_MESSAGE_BYTES,  # API Gateway's WebSocket message limit
        loop="auto",
        http="auto",
    )
    server = uvicorn.Server(uv_config)
    server.run()
    return 0 if server.started else EXIT_FAILED
