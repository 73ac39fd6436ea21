"""faas/registry.py on its own: the functions of a real config, their code versions, look-ups, and
which functions a config change or a file change moves on to a new version."""

from __future__ import annotations

from pathlib import Path

import pytest

from faas.config import Config, load_config
from faas.exceptions import FunctionNotFound
from faas.registry import Registry

BASE = """
[server]
region = "eu-west-1"
account_id = "123456789012"

[functions.hello]
handler = "hello.handler"

[functions.greet]
handler = "hello.greet"
memory = 256

[functions.thumbs]
handler = "thumbs.app.handler"
environment = { SIZE = "128" }
"""


def config(tmp_path: Path, text: str = BASE) -> Config:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_config(path)


class Changes:
    """A registry listener that records what it was told."""

    def __init__(self) -> None:
        self.calls: list[tuple[Config, set[str]]] = []

    def __call__(self, config: Config, changed: set[str]) -> None:
        self.calls.append((config, set(changed)))


def test_functions_of_the_config(tmp_path: Path) -> None:
    registry = Registry(config(tmp_path))
    assert registry.names() == ["greet", "hello", "thumbs"]
    assert sorted(f.name for f in registry) == ["greet", "hello", "thumbs"]
    hello = registry.get("hello")
    assert hello.name == "hello"
    assert hello.config.handler == "hello.handler"
    assert hello.arn == "arn:aws:lambda:eu-west-1:123456789012:function:hello"
    assert registry.get("greet").config.memory == 256
    # the module a handler lives in: what owns functions/NAME.py or functions/NAME/
    assert (hello.module_root, registry.get("greet").module_root, registry.get("thumbs").module_root) == ("hello", "hello", "thumbs")


def test_an_unknown_function_is_not_found(tmp_path: Path) -> None:
    registry = Registry(config(tmp_path))
    with pytest.raises(FunctionNotFound) as caught:
        registry.get("nope")
    assert isinstance(caught.value, LookupError)
    assert "nope" in str(caught.value)


def test_every_function_starts_at_its_own_version(tmp_path: Path) -> None:
    registry = Registry(config(tmp_path))
    versions = [registry.get(n).version for n in registry.names()]
    assert len(set(versions)) == 3 and min(versions) >= 1


def test_iterating_is_a_snapshot(tmp_path: Path) -> None:
    registry = Registry(config(tmp_path))
    seen = []
    for fn in registry:
        seen.append(fn.name)
        registry.apply_config(config(tmp_path, BASE.replace("[functions.greet]", "[functions.other]")))
    assert sorted(seen) == ["greet", "hello", "thumbs"]


def test_the_same_config_changes_nothing(tmp_path: Path) -> None:
    registry = Registry(config(tmp_path))
    before = {f.name: f.version for f in registry}
    changes = Changes()
    registry.subscribe(changes)
    assert registry.apply_config(config(tmp_path)) == set()
    assert {f.name: f.version for f in registry} == before
    assert len(changes.calls) == 1 and changes.calls[0][1] == set()  # listeners hear of every apply


def test_a_changed_function_gets_a_new_version_and_only_it(tmp_path: Path) -> None:
    registry = Registry(config(tmp_path))
    before = {f.name: f.version for f in registry}
    changes = Changes()
    registry.subscribe(changes)
    new = config(tmp_path, BASE.replace("memory = 256", "memory = 512"))
    assert registry.apply_config(new) == {"greet"}
    assert registry.get("greet").version > max(before.values())
    assert registry.get("greet").config.memory == 512
    assert registry.get("hello").version == before["hello"]
    assert registry.get("thumbs").version == before["thumbs"]
    assert changes.calls == [(new, {"greet"})]
    assert registry.config is new


def test_a_changed_environment_is_a_change(tmp_path: Path) -> None:
    registry = Registry(config(tmp_path))
    old = registry.get("thumbs")
    assert registry.apply_config(config(tmp_path, BASE.replace('SIZE = "128"', 'SIZE = "256"'))) == {"thumbs"}
    assert registry.get("thumbs").version > old.version
    assert registry.get("thumbs").env["SIZE"] == "256"


def test_a_server_setting_that_reaches_workers_moves_every_function(tmp_path: Path) -> None:
    registry = Registry(config(tmp_path))
    assert registry.apply_config(config(tmp_path, BASE.replace("eu-west-1", "us-west-2"))) == {"greet", "hello", "thumbs"}
    assert registry.get("hello").arn == "arn:aws:lambda:us-west-2:123456789012:function:hello"


def test_added_and_removed_functions(tmp_path: Path) -> None:
    registry = Registry(config(tmp_path))
    text = BASE.replace("[functions.greet]\nhandler = \"hello.greet\"\nmemory = 256\n", "") + '[functions.fresh]\nhandler = "fresh.handler"\n'
    assert registry.apply_config(config(tmp_path, text)) == {"greet", "fresh"}
    assert registry.names() == ["fresh", "hello", "thumbs"]
    with pytest.raises(FunctionNotFound):
        registry.get("greet")
    assert registry.get("fresh").config.handler == "fresh.handler"


def test_versions_only_go_up(tmp_path: Path) -> None:
    """A function removed and added back does not get its old version again."""
    registry = Registry(config(tmp_path))
    first = registry.get("greet").version
    without = BASE.replace("[functions.greet]\nhandler = \"hello.greet\"\nmemory = 256\n", "")
    registry.apply_config(config(tmp_path, without))
    registry.apply_config(config(tmp_path))
    assert registry.get("greet").version > first


def test_a_file_moves_the_functions_that_own_it(tmp_path: Path) -> None:
    registry = Registry(config(tmp_path))
    fdir = registry.config.server.functions_dir
    before = {f.name: f.version for f in registry}
    changes = Changes()
    registry.subscribe(changes)
    # functions/hello.py belongs to both handlers in module "hello"
    assert registry.code_changed([fdir / "hello.py"]) == {"hello", "greet"}
    assert registry.get("thumbs").version == before["thumbs"]
    assert registry.get("hello").version > before["hello"] and registry.get("greet").version > before["greet"]
    # functions/thumbs/ (a package) belongs to "thumbs", however deep
    assert registry.code_changed([fdir / "thumbs" / "app.py", fdir / "thumbs" / "lib" / "x.py"]) == {"thumbs"}
    assert [c[1] for c in changes.calls] == [{"hello", "greet"}, {"thumbs"}]


def test_touch_moves_the_named_functions_on(tmp_path: Path) -> None:
    """What hot reload calls when a code zip, layer or requirements file outside functions/ changed."""
    registry = Registry(config(tmp_path))
    before = {f.name: f.version for f in registry}
    changes = Changes()
    registry.subscribe(changes)
    assert registry.touch(["thumbs", "greet", "gone"]) == {"thumbs", "greet"}  # unknown names are ignored
    assert registry.get("hello").version == before["hello"]
    assert registry.get("thumbs").version > before["thumbs"] and registry.get("greet").version > before["greet"]
    assert registry.get("thumbs").config == registry.config.functions["thumbs"]
    assert registry.touch([]) == set() and registry.touch(["gone"]) == set()
    assert [c[1] for c in changes.calls] == [{"thumbs", "greet"}]  # nothing touched, nobody told


def test_a_file_no_function_owns_moves_every_function(tmp_path: Path) -> None:
    registry = Registry(config(tmp_path))
    fdir = registry.config.server.functions_dir
    assert registry.code_changed([fdir / "shared_helpers.py"]) == {"hello", "greet", "thumbs"}
    assert registry.code_changed([fdir / "hello.py", fdir / "common" / "db.py"]) == {"hello", "greet", "thumbs"}


@pytest.mark.parametrize(
    "relative",
    ["hello.pyc", "hello.py~", ".hello.py.swp", "hello.py.swx", "hello.tmp", "__pycache__/hello.cpython-311.pyc", "thumbs/__pycache__/app.pyc"],
)
def test_editor_and_bytecode_files_move_nothing(tmp_path: Path, relative: str) -> None:
    registry = Registry(config(tmp_path))
    before = {f.name: f.version for f in registry}
    changes = Changes()
    registry.subscribe(changes)
    assert registry.code_changed([registry.config.server.functions_dir / relative]) == set()
    assert {f.name: f.version for f in registry} == before
    assert changes.calls == []  # nothing changed, nobody is told


def test_files_outside_the_functions_dir_move_nothing(tmp_path: Path) -> None:
    registry = Registry(config(tmp_path))
    fdir = registry.config.server.functions_dir
    assert registry.code_changed([tmp_path / "elsewhere" / "hello.py", fdir]) == set()
    assert registry.code_changed([]) == set()


def test_an_env_provider_adds_to_every_function(tmp_path: Path) -> None:
    registry = Registry(config(tmp_path))
    before = {f.name: f.version for f in registry}
    registry.set_env_provider(lambda name: {"AWS_ACCESS_KEY_ID": f"FI-{name}", "AWS_SECRET_ACCESS_KEY": "s"})
    for fn in registry:
        assert fn.env["AWS_ACCESS_KEY_ID"] == f"FI-{fn.name}"
        assert fn.version > before[fn.name]  # rebuilt with the new environment
    # what the provider adds is per run: the same config does not count it as a change
    assert registry.apply_config(config(tmp_path)) == set()
    # and a function rebuilt for a real change gets the provider's variables too
    registry.apply_config(config(tmp_path, BASE.replace("memory = 256", "memory = 1024")))
    assert registry.get("greet").env["AWS_ACCESS_KEY_ID"] == "FI-greet"


def test_a_worker_sees_its_function_and_lambda_variables(tmp_path: Path) -> None:
    registry = Registry(config(tmp_path))
    env = registry.get("thumbs").env
    assert env["SIZE"] == "128"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "thumbs"
    assert env["AWS_REGION"] == "eu-west-1"
    assert env["_HANDLER"] == "thumbs.app.handler"
    assert "SIZE" not in registry.get("hello").env


def test_a_failing_listener_does_not_stop_the_others(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    registry = Registry(config(tmp_path))

    def broken(config: Config, changed: set[str]) -> None:
        raise RuntimeError("listener bug")

    changes = Changes()
    registry.subscribe(broken)
    registry.subscribe(changes)
    assert registry.apply_config(config(tmp_path, BASE.replace("memory = 256", "memory = 384"))) == {"greet"}
    assert [c[1] for c in changes.calls] == [{"greet"}]
    assert "listener" in caplog.text and "listener bug" in caplog.text
