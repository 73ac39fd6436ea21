"""Throw-away workspaces: a temp folder with generated handlers, a data dir and a config.toml."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from faas.config import Config, load_config

BALLAST_MB = 256

# Handlers the sections use. None imports anything heavy, so a cold start measures the platform.
HANDLERS: dict[str, str] = {
    # The same work as functions/hello.py: a path parameter in, an API Gateway response out.
    "hello.py": '''import json


def handler(event, context):
    name = (event.get("pathParameters") or {}).get("name", "world")
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"message": f"Hello, {name}!", "requestId": context.aws_request_id}),
    }
''',
    "noop.py": '''def handler(event, context):
    return {"ok": True}
''',
    # A runaway handler: {"spin": true} burns CPU until the platform kills it.
    "spin.py": '''def handler(event, context):
    if event.get("spin"):
        while True:
            pass
    return {"ok": True}
''',
    # The same, with BALLAST_MB resident from the init phase on.
    "ballast.py": f'''BALLAST = b"\\x01" * ({BALLAST_MB} * 1024 * 1024)


def handler(event, context):
    if event.get("spin"):
        while True:
            pass
    return {{"ok": True, "mb": len(BALLAST) >> 20}}
''',
}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


class Workspace:
    """``with Workspace("name") as ws``: a temp folder that is removed afterwards, whatever happens."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.root = Path(tempfile.mkdtemp(prefix=f"faas-bench-{name}-"))
        self.functions_dir = self.root / "functions"
        self.data_dir = self.root / "data"
        self.functions_dir.mkdir()
        for filename, source in HANDLERS.items():
            (self.functions_dir / filename).write_text(source)

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def write_config(
        self,
        *,
        functions: Mapping[str, Mapping[str, Any]],
        routes: Sequence[Mapping[str, str]] = (),
        executor: Mapping[str, Any] | None = None,
        layers: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Path:
        """Write ``config.toml`` for these functions, routes and layers; returns its path."""
        lines = [
            "[server]",
            'host = "127.0.0.1"',
            'data_dir = "data"',
            'functions_dir = "functions"',
            "",
            "[executor]",
        ]
        lines += [f"{k} = {_toml_value(v)}" for k, v in (executor or {}).items()]
        for name, settings in (layers or {}).items():
            lines += ["", f"[layers.{name}]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in settings.items()]
        for name, settings in functions.items():
            lines += ["", f"[functions.{name}]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in settings.items()]
        for route in routes:
            lines += ["", "[[routes]]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in route.items()]
        path = self.root / "config.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def config(self, **kwargs: Any) -> Config:
        """Write the config file and load it the way ``faas serve`` does."""
        return load_config(self.write_config(**kwargs))
