"""The ``faas`` command, and the composition root: ``faas serve`` wires core, gateway and scheduler.

Errors become exit codes here: 2 for bad usage or config, 1 for a failed operation or a function
error, 3 when the server cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import re
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


from faas.admin_key import load_admin_key
from faas.config import Config, load_config
from faas.exceptions import ConfigError, FaaSError
from faas.locations import local_url

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default="config.toml", help="path to config.toml (default: ./config.toml)")

    parser = argparse.ArgumentParser(prog="faas", description="A Lambda-compatible functions platform for one VM.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve_p = sub.add_parser("serve", parents=[common], help="serve the functions in config.toml")
    serve_p.add_argument("--host", help="listen address (default: server.host)")
    serve_p.add_argument("--port", type=int, help="listen port (default: server.port)")
    serve_p.set_defaults(run=lambda config, a: serve(config, a.host, a.port))

    invoke_p = sub.add_parser("invoke", parents=[common], help="invoke a function on the running server")
    invoke_p.add_argument("name")
    invoke_p.add_argument("--payload", default="{}", help="JSON text, or @file to read it from a file")
    invoke_p.add_argument("--url", help="server URL (default: from config)")
    invoke_p.add_argument("--log", action="store_true", help="print the call's log tail to stderr")
    invoke_p.set_defaults(run=lambda config, a: invoke(config, a.name, a.payload, a.url, a.log))

    logs_p = sub.add_parser("logs", parents=[common], help="show a function's logs")
    logs_p.add_argument("name")
    logs_p.add_argument("--since", help="only logs newer than this: 30s, 10m, 2h, 1d")
    logs_p.add_argument("--follow", "-f", action="store_true", help="keep printing new logs")
    logs_p.add_argument("--request-id", help="only the log of this request")
    logs_p.set_defaults(run=lambda config, a: asyncio.run(logs(config, a.name, a.since, a.follow, a.request_id)))

    # Further command groups live in their own modules, each with register(sub, common).
    for module in _command_modules():
        module.register(sub, common)
    return parser


def _command_modules() -> list[Any]:
    from faas import cli_bill, cli_dlq, cli_keys, cli_schedules

    modules: list[Any] = [cli_keys, cli_bill, cli_schedules, cli_dlq]
    return modules


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config)
        return int(args.run(config, args))
    except ConfigError as exc:
        print(f"faas: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CliError as exc:
        print(f"faas: {exc}", file=sys.stderr)
        return exc.code
    except FaaSError as exc:
        print(f"faas: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


# --- serve -------------------------------------------------------------------------------------


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


# --- invoke ------------------------------------------------------------------------------------


def server_url(config: Config, url: str | None) -> str:
    if url:
        return url.rstrip("/")
    return local_url(config.server.host, config.server.port)


def admin_key(config: Config) -> str:
    key = load_admin_key(config.server.data_dir, os.environ, create=False)
    if not key:
        raise CliError(f"no admin key: set FAAS_ADMIN_KEY or start the server once to create {config.server.data_dir / 'admin.key'}")
    return key


def request(config: Config, method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body, method=method)
    req.add_header("Authorization", f"Bearer {admin_key(config)}")
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=960) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()
    except (urllib.error.URLError, ConnectionError) as exc:
        raise CliError(f"cannot reach the server at {url}: {getattr(exc, 'reason', exc)}", EXIT_UNREACHABLE) from exc


def invoke(config: Config, name: str, payload_arg: str, url: str | None, show_log: bool) -> int:
    if payload_arg.startswith("@"):
        try:
            payload = Path(payload_arg[1:]).read_bytes()
        except OSError as exc:
            raise CliError(f"cannot read payload file {payload_arg[1:]}: {exc.strerror}", EXIT_USAGE) from exc
    else:
        payload = payload_arg.encode()
    try:
        json.loads(payload or b"{}")
    except ValueError as exc:
        raise CliError(f"--payload is not valid JSON: {exc}", EXIT_USAGE) from exc
    target = f"{server_url(config, url)}/2015-03-31/functions/{name}/invocations"
    status, headers, body = request(config, "POST", target, payload, {"X-Amz-Log-Type": "Tail"})
    lower = {k.lower(): v for k, v in headers.items()}
    if show_log and "x-amz-log-result" in lower:
        sys.stderr.write(base64.b64decode(lower["x-amz-log-result"]).decode("utf-8", "replace"))
    if status != 200:
        try:
            message = json.loads(body).get("message", body.decode("utf-8", "replace"))
        except (ValueError, AttributeError):
            message = body.decode("utf-8", "replace")
        raise CliError(f"{lower.get('x-amzn-errortype', status)}: {message}")
    sys.stdout.write(body.decode("utf-8", "replace") + "\n")
    return EXIT_FAILED if "x-amz-function-error" in lower else 0


# --- logs --------------------------------------------------------------------------------------

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")


def parse_since(text: str) -> float:
    m = _DURATION.match(text.strip())
    if not m:
        raise CliError(f'--since "{text}": use a number and a unit, like 30s, 10m, 2h or 1d', EXIT_USAGE)
    return time.time() - float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


async def logs(config: Config, name: str, since: str | None, follow: bool, request_id: str | None) -> int:
    from faas.locations import db_path
    from faas.store import SQLiteStore

    since_ts = parse_since(since) if since else None
    db = db_path(config.server.data_dir)
    if not db.exists():
        raise CliError(f"no data yet: {db} does not exist (has the server run?)")
    if name not in config.functions:
        print(f"faas: note: {name} is not in {config.path.name} (showing stored logs anyway)", file=sys.stderr)
    async with SQLiteStore(db) as store:
        last = 0
        while True:
            entries = await store.logs(function=name, since=since_ts, request_id=request_id, after_id=last)
            for entry_id, entry in entries:
                sys.stdout.write(entry.text)
                last = entry_id
            sys.stdout.flush()
            if not follow:
                return 0
            if not entries:
                await asyncio.sleep(0.5)


def entry() -> None:
    sys.exit(main())


