"""faas/reload.py without a server: a Reloader on a real Registry, watching real files with watchfiles.

Code zips and folders, layers and requirements files outside functions/ give the functions that use
them a new version when edited or replaced; a config reload that names other paths is watched anew.
"""

from __future__ import annotations

import asyncio
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

from faas.config import load_config
from faas.registry import Registry
from faas.reload import Reloader

CONFIG = """
[layers.common]
path = "layers/common"
[functions.zipped]
handler = "app.handler"
code = "dist/zipped.zip"
[functions.layered]
handler = "plain.handler"
layers = ["common"]
requirements = "reqs/layered.txt"
[functions.alone]
handler = "plain.handler"
"""


def make_zip(path: Path, text: str) -> None:
    """Write a zip beside ``path`` and rename it over ``path``, as a build tool replaces its output."""
    tmp = path.with_suffix(".building")
    with zipfile.ZipFile(tmp, "w") as zf:
        zf.writestr("app.py", text)
    os.replace(tmp, path)


def registry_for(tmp_path: Path, text: str = CONFIG) -> Registry:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "plain.py").write_text("def handler(e, c): return 1\n")
    (tmp_path / "dist").mkdir()
    make_zip(tmp_path / "dist" / "zipped.zip", "v = 1\n")
    (tmp_path / "layers" / "common" / "python").mkdir(parents=True)
    (tmp_path / "reqs").mkdir()
    (tmp_path / "reqs" / "layered.txt").write_text("")
    (tmp_path / "config.toml").write_text(text)
    return Registry(load_config(tmp_path / "config.toml"))


def versions(registry: Registry) -> dict[str, int]:
    return {f.name: f.version for f in registry}


async def until_moved(registry: Registry, name: str, change: Callable[[int], None], timeout: float = 15.0) -> None:
    """Make ``change(n)`` (n = 0, 1, ...) until ``name`` has a new version. The watcher starts in a
    thread and says nothing when it is ready, so a change made before it is missed: make it again."""
    before = registry.get(name).version
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    attempt = 0
    while registry.get(name).version == before:
        assert loop.time() < deadline, f"{name} did not move on within {timeout}s"
        change(attempt)
        attempt += 1
        for _ in range(20):  # the watcher debounces for 400 ms
            await asyncio.sleep(0.05)
            if registry.get(name).version != before:
                return


def test_packages_changed_moves_on_the_functions_using_a_path(tmp_path: Path) -> None:
    registry = registry_for(tmp_path)
    reloader = Reloader(registry)
    before = versions(registry)
    assert reloader.packages_changed([tmp_path / "dist" / "zipped.zip"]) == {"zipped"}
    assert reloader.packages_changed([tmp_path / "layers" / "common" / "python" / "lib.py"]) == {"layered"}
    assert reloader.packages_changed([tmp_path / "reqs" / "layered.txt"]) == {"layered"}
    # bytecode and editor files, and paths nobody uses, move nothing
    assert reloader.packages_changed([tmp_path / "layers" / "common" / "python" / "__pycache__" / "lib.pyc"]) == set()
    assert reloader.packages_changed([tmp_path / "layers" / "common" / "python" / "lib.py~"]) == set()
    assert reloader.packages_changed([tmp_path / "dist" / "other.zip"]) == set()
    after = versions(registry)
    assert after["alone"] == before["alone"]
    assert after["zipped"] > before["zipped"] and after["layered"] > before["layered"]


def test_a_replaced_zip_an_edited_layer_and_requirements_are_new_versions(tmp_path: Path) -> None:
    registry = registry_for(tmp_path)
    alone = registry.get("alone").version

    async def main() -> None:
        async with Reloader(registry) as reloader:
            assert reloader.watched == {
                tmp_path / "dist" / "zipped.zip", tmp_path / "layers" / "common", tmp_path / "reqs" / "layered.txt",
            }
            await until_moved(registry, "zipped", lambda n: make_zip(tmp_path / "dist" / "zipped.zip", f"v = {n + 2}\n"))
            lib = tmp_path / "layers" / "common" / "python" / "lib.py"
            await until_moved(registry, "layered", lambda n: lib.write_text(f"X = {n}\n"))
            reqs = tmp_path / "reqs" / "layered.txt"
            await until_moved(registry, "layered", lambda n: reqs.write_text(f"humanize=={n}.0\n"))

    asyncio.run(main())
    assert registry.get("alone").version == alone


def test_a_config_reload_watches_the_paths_it_names(tmp_path: Path) -> None:
    registry = registry_for(tmp_path)
    (tmp_path / "src").mkdir()

    async def main() -> None:
        async with Reloader(registry) as reloader:
            # the first round is watching (a change it sees proves it) before the config changes
            await until_moved(registry, "zipped", lambda n: make_zip(tmp_path / "dist" / "zipped.zip", f"v = {n + 2}\n"))
            config = tmp_path / "config.toml"
            config.write_text(CONFIG + '[functions.foldered]\nhandler = "app.handler"\ncode = "src"\n')
            assert reloader.reload_config()
            app = tmp_path / "src" / "app.py"
            await until_moved(registry, "foldered", lambda n: app.write_text(f"v = {n}\n"))
            assert tmp_path / "src" in reloader.watched

    asyncio.run(main())


def test_a_watched_folder_replaced_is_watched_again(tmp_path: Path) -> None:
    """A layer folder swapped for a new one (a deploy renaming a fresh copy into place) keeps being watched."""
    registry = registry_for(tmp_path)
    layer = tmp_path / "layers" / "common"

    async def main() -> None:
        async with Reloader(registry):
            fresh = tmp_path / "layers" / "fresh"

            def swap(n: int) -> None:
                (fresh / "python").mkdir(parents=True, exist_ok=True)
                (fresh / "python" / "lib.py").write_text(f"X = {n}\n")
                os.rename(layer, tmp_path / "layers" / f"old{n}")
                os.rename(fresh, layer)

            await until_moved(registry, "layered", swap)
            await until_moved(registry, "layered", lambda n: (layer / "python" / "lib.py").write_text(f"Y = {n}\n"))

    asyncio.run(main())
