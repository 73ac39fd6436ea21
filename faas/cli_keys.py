"""``faas keys create|list|revoke``: through the running server's admin API, or straight on the store
when the server is not running (the server picks up such changes within a few seconds)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

import os

from faas import cli
from faas.admin_key import load_admin_key
from faas.config import Config
from faas.exceptions import InvalidRequest, KeyNotFound


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    keys = sub.add_parser("keys", help="manage API keys")
    ksub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = ksub.add_parser("create", parents=[common], help="create a key and print its secret (once)")
    create.add_argument("name")
    create.add_argument("--plan", help="usage plan from [usage_plans] in the config")
    create.add_argument("--url", help="server URL (default: from config)")
    create.set_defaults(run=lambda config, a: create_key(config, a.name, a.plan, a.url))
    list_ = ksub.add_parser("list", parents=[common], help="list keys (never their secrets)")
    list_.add_argument("--format", choices=("table", "json"), default="table")
    list_.add_argument("--url", help="server URL (default: from config)")
    list_.set_defaults(run=lambda config, a: list_keys(config, a.format, a.url))
    revoke = ksub.add_parser("revoke", parents=[common], help="revoke a key; it stops working at once")
    revoke.add_argument("id")
    revoke.add_argument("--url", help="server URL (default: from config)")
    revoke.set_defaults(run=lambda config, a: revoke_key(config, a.id, a.url))


def _server(config: Config, method: str, path: str, url: str | None, body: dict[str, Any] | None = None) -> tuple[int, Any] | None:
    """Call the admin API; None when no server answers (then the store is used directly)."""
    if load_admin_key(config.server.data_dir, os.environ, create=False) is None:
        return None
    try:
        status, _, raw = cli.request(
            config, method, f"{cli.server_url(config, url)}{path}",
            json.dumps(body).encode() if body is not None else None, {"Content-Type": "application/json"},
        )
    except cli.CliError as exc:
        if exc.code == cli.EXIT_UNREACHABLE:
            return None
        raise
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        raise cli.CliError(f"the server answered {status} with a body that is not JSON") from None


async def _offline(config: Config, action: str, *args: Any) -> Any:
    from faas.keys import Keyring
    from faas.locations import db_path
    from faas.secretbox import SecretBox
    from faas.store import SQLiteStore
    from faas.store_keys import KeyStore

    data_dir = config.server.data_dir
    async with SQLiteStore(db_path(data_dir)) as store:
        ring = Keyring(KeyStore(store), SecretBox.load(data_dir))
        if action == "create":
            key, secret = await ring.create(*args)
            return {"id": key.id, "secret": secret, "name": key.name, "plan": key.plan}
        if action == "list":
            return {"keys": [k.public() for k in await ring.list()]}
        return (await ring.revoke(*args)).public()


def _fail_on(status: int, data: Any) -> None:
    if status >= 400:
        message = data.get("message") if isinstance(data, dict) else data
        raise cli.CliError(str(message), cli.EXIT_USAGE if status == 400 else cli.EXIT_FAILED)


def create_key(config: Config, name: str, plan: str | None, url: str | None) -> int:
    from faas.keys import validate_new_key

    try:
        validate_new_key(name, plan, config.usage_plans)
    except InvalidRequest as exc:
        raise cli.CliError(str(exc), cli.EXIT_USAGE) from exc
    answer = _server(config, "POST", "/admin/api/keys", url, {"name": name, "plan": plan})
    if answer is None:
        data = asyncio.run(_offline(config, "create", name.strip(), plan))
    else:
        _fail_on(*answer)
        data = answer[1]
    print(json.dumps({"id": data["id"], "secret": data["secret"], "name": data["name"], "plan": data["plan"]}))
    return 0


def list_keys(config: Config, fmt: str, url: str | None) -> int:
    answer = _server(config, "GET", "/admin/api/keys", url)
    if answer is None:
        data = asyncio.run(_offline(config, "list"))
    else:
        _fail_on(*answer)
        data = answer[1]
    keys = data["keys"]
    if fmt == "json":
        print(json.dumps(keys, indent=2))
        return 0
    rows = [("ID", "NAME", "PLAN", "STATUS")] + [
        (k["id"], k["name"], k["plan"] or "-", "revoked" if k["revoked"] else "active") for k in keys
    ]
    widths = [max(len(str(r[i])) for r in rows) for i in range(4)]
    for r in rows:
        sys.stdout.write("  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip() + "\n")
    return 0


def revoke_key(config: Config, key_id: str, url: str | None) -> int:
    answer = _server(config, "DELETE", f"/admin/api/keys/{key_id}", url)
    if answer is None:
        try:
            data = asyncio.run(_offline(config, "revoke", key_id))
        except KeyNotFound as exc:
            raise cli.CliError(str(exc)) from exc
    else:
        _fail_on(*answer)
        data = answer[1]
    print(json.dumps(data))
    return 0
