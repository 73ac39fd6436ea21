"""``faas keys create|list|revoke``: through the running server's admin API, or straight on the store
when the server is not running (the server picks up such changes within a few seconds)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from faas.cli._common import EXIT_USAGE, CliError, open_store, print_table, server_else_store, server_url
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


def _keys(config: Config, method: str, path: str, url: str | None, action: str, *args: Any,
          body: dict[str, Any] | None = None) -> Any:
    """The admin API's answer, else the same from the store. Keys need no running server: without
    an admin key (no server has started here yet) they go straight to the store."""
    return server_else_store(
        config, method, f"{server_url(config, url)}/admin/api/keys{path}", lambda: _on_store(config, action, *args),
        body=body, keyless_to_store=True, bad_request=EXIT_USAGE,
    )


async def _on_store(config: Config, action: str, *args: Any) -> Any:
    from faas.keys import Keyring
    from faas.secretbox import SecretBox
    from faas.store import KeyStore

    async with open_store(config, must_exist=False) as store:
        ring = Keyring(KeyStore(store), SecretBox.load(config.server.data_dir))
        if action == "create":
            key, secret = await ring.create(*args)
            return {"id": key.id, "secret": secret, "name": key.name, "plan": key.plan}
        if action == "list":
            return {"keys": [k.public() for k in await ring.list()]}
        try:
            return (await ring.revoke(*args)).public()
        except KeyNotFound as exc:
            raise CliError(str(exc)) from exc


def create_key(config: Config, name: str, plan: str | None, url: str | None) -> int:
    from faas.keys import validate_new_key

    try:
        validate_new_key(name, plan, config.usage_plans)
    except InvalidRequest as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    data = _keys(config, "POST", "", url, "create", name.strip(), plan, body={"name": name, "plan": plan})
    print(json.dumps({"id": data["id"], "secret": data["secret"], "name": data["name"], "plan": data["plan"]}))
    return 0


def list_keys(config: Config, fmt: str, url: str | None) -> int:
    keys = _keys(config, "GET", "", url, "list")["keys"]
    if fmt == "json":
        print(json.dumps(keys, indent=2))
        return 0
    print_table([("ID", "NAME", "PLAN", "STATUS")] + [
        (k["id"], k["name"], k["plan"] or "-", "revoked" if k["revoked"] else "active") for k in keys
    ])
    return 0


def revoke_key(config: Config, key_id: str, url: str | None) -> int:
    print(json.dumps(_keys(config, "DELETE", f"/{key_id}", url, "revoke", key_id)))
    return 0
