"""``faas invoke NAME [--payload JSON|@file] [--log]``: one call through the running server's Lambda API.

The exit code is 1 when the function itself failed (``X-Amz-Function-Error``), as well as when the
call was refused.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import Any

from faas.cli._common import EXIT_FAILED, EXIT_USAGE, CliError, request, server_url
from faas.config import Config


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    invoke_p = sub.add_parser("invoke", parents=[common], help="invoke a function on the running server")
    invoke_p.add_argument("name")
    invoke_p.add_argument("--payload", default="{}", help="JSON text, or @file to read it from a file")
    invoke_p.add_argument("--url", help="server URL (default: from config)")
    invoke_p.add_argument("--log", action="store_true", help="print the call's log tail to stderr")
    invoke_p.set_defaults(run=lambda config, a: invoke(config, a.name, a.payload, a.url, a.log))


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
