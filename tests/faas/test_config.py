"""config.toml validation: every bad key or value is refused with a message naming the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from faas.config import load_config
from faas.exceptions import ConfigError

BASE = '[functions.hello]\nhandler = "hello.handler"\n'


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_config(path)


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    config = load(tmp_path, BASE + '[[routes]]\npath = "/hi/{name}"\nfunction = "hello"\n')
    assert config.server.port == 8080 and config.server.host == "127.0.0.1"
    assert config.server.data_dir == tmp_path / "data"
    assert config.server.functions_dir == tmp_path / "functions"
    assert config.server.max_body_bytes == 6 * 1024 * 1024
    fn = config.functions["hello"]
    assert (fn.memory, fn.timeout, fn.concurrency, dict(fn.environment)) == (128, 3.0, 10, {})
    assert config.routes[0].method == "ANY" and config.routes[0].auth == "none"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nprot = 1\n", "server.prot: unknown key"),
        ("[server]\nport = 70000\n", "server.port = 70000: must be an integer from 0 to 65535"),
        ("[server]\nport = \"80\"\n", 'server.port = "80": must be an integer from 0 to 65535'),
        ("[executor]\nmax_workers = 0\n", "executor.max_workers = 0: must be an integer from 1 to 10000"),
        ("[executor]\npreload = \"json\"\n", 'executor.preload = "json": must be a list of strings'),
        ("[functions.hello]\nmemory = 256\n", "functions.hello.handler: missing, a string is required"),
        (BASE + "memory = 64\n", "functions.hello.memory = 64: must be an integer from 128 to 10240"),
        (BASE + "memory = 20000\n", "functions.hello.memory = 20000: must be an integer from 128 to 10240"),
        (BASE + "timeout = 0.5\n", "functions.hello.timeout = 0.5: must be a number from 1 to 900"),
        (BASE + "timeout = 901\n", "functions.hello.timeout = 901: must be a number from 1 to 900"),
        (BASE + "concurrency = true\n", "functions.hello.concurrency = true: must be an integer from 1 to 10000"),
        (BASE + "colour = 1\n", "functions.hello.colour: unknown key"),
        ('[functions.hello]\nhandler = "hello"\n', 'functions.hello.handler = "hello": must be module.attribute'),
        (BASE + "[functions.hello.environment]\nPORT = 80\n", "functions.hello.environment.PORT = 80: must be a string"),
        (BASE + '[functions.hello.environment]\n_HANDLER = "x"\n', "functions.hello.environment._HANDLER: reserved"),
        ('[functions."bad name"]\nhandler = "a.b"\n', 'a function name must be 1-64 letters'),
        (BASE + '[[routes]]\npath = "/x"\nfunction = "nope"\n', 'routes[0].function = "nope": no such function (known: hello)'),
        (BASE + '[[routes]]\npath = "x"\nfunction = "hello"\n', 'routes[0].path = "x": must start with "/"'),
        (BASE + '[[routes]]\npath = "/a/{p+}/b"\nfunction = "hello"\n', "a greedy {p+} must be the last segment"),
        (BASE + '[[routes]]\npath = "/a/x{id}"\nfunction = "hello"\n', '"x{id}" must be a whole segment'),
        (BASE + '[[routes]]\npath = "/healthz"\nfunction = "hello"\n', "/healthz is reserved for the platform"),
        (BASE + '[[routes]]\nmethod = "FETCH"\npath = "/x"\nfunction = "hello"\n', 'routes[0].method = "FETCH": must be one of GET'),
        (BASE + '[[routes]]\npath = "/x"\nfunction = "hello"\nauth = "magic"\n', "routes[0].auth = \"magic\": must be one of 'none', 'api_key'"),
        (BASE + '[[routes]]\npath = "/x"\nfunction = "hello"\n[[routes]]\npath = "/x"\nfunction = "hello"\n', 'routes[1]: "ANY /x" is already routed by routes[0]'),
        ("routes = 3\n", "routes: must be an array of tables"),
        ("[nonsense]\n", "nonsense: unknown key"),
        ("[server\n", "invalid TOML"),
    ],
)
def test_rejected_with_key_path(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert message in str(info.value)
    assert str(info.value).startswith("config.toml: ") or "invalid TOML" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_shipped_config_is_valid() -> None:
    config = load_config(Path(__file__).parents[2] / "config.toml")
    assert {"hello", "echo", "webapp", "slow", "thumbnail"} <= set(config.functions)
    assert {b.name for b in config.buckets} == {"uploads", "thumbnails"}
