"""``faas status [--json]``: every function's serving version, environment state and last build error.

With the server running it answers (``GET /admin/api/functions``), so builds in flight show as
``building``. Without one, the state is read from the data folder: an environment is ``ready`` if
it was built there (``faas deps build`` or an earlier start), else ``missing`` until the next start
or ``faas deps build`` builds it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from faas.cli._common import print_table, server_else_store, server_url
from faas.config import Config


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("status", parents=[common], help="functions: version, environment state, build errors")
    p.add_argument("--url", help="server URL (default: from config)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=lambda config, a: status(config, a))


def status(config: Config, args: argparse.Namespace) -> int:
    data = server_else_store(
        config, "GET", f"{server_url(config, args.url)}/admin/api/functions", lambda: _on_disk(config),
        keyless_to_store=True, note="server not reachable; reading the data folder",
    )
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    table = [("FUNCTION", "VERSION", "STATE", "ENVIRONMENT", "REQUIREMENTS", "ERROR")]
    for f in data["functions"]:
        version = "-" if f["version"] is None else str(f["version"])
        if f.get("pendingVersion") is not None:
            version += f" ({f['pendingVersion']} pending)"
        table.append((
            f["name"], version, f["state"], f["environment"] or "-", f["requirements"] or "-",
            (f["error"] or "").splitlines()[0][:100] if f["error"] else "",
        ))
    print_table(table)
    return 0


async def _on_disk(config: Config) -> dict[str, Any]:
    from faas.builder import EnvironmentBuilder
    from faas.registry import Registry
    from faas.packages import packages_root
    from faas.resolve import PackageResolver

    data_dir = config.server.data_dir
    resolver = PackageResolver(EnvironmentBuilder(data_dir), packages_root(config), build=False)
    rows = [s.as_json() for s in Registry(config, resolver).status()]
    for row in rows:
        if row["state"] == "building":  # nothing is building without a server
            row["state"] = "missing"
    return {"functions": rows}
