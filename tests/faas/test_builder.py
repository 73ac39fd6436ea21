"""faas/builder.py: dependency sets built by the real uv from wheels built here, never the network.

Each test gets its own uv cache and a wheelhouse (``find_links`` + ``offline``). Builds that must
be slow, held or counted run uv through a small shell wrapper (``wrapped_uv``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from faas.builder import (
    MARKER,
    BuildState,
    EnvironmentBuilder,
    requirements_path,
    resolver_message,
    uv_bin,
)
from faas.config import load_config
from faas.environment import DependencySet, IndexSettings, read_requirements
from faas.exceptions import BuildFailed
from tests.conftest import free_port
from tests.wheels import build_wheel


@pytest.fixture(autouse=True)
def uv_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway uv cache: what one test's wheels leave there never serves another's."""
    cache = tmp_path / "uv-cache"
    monkeypatch.setenv("UV_CACHE_DIR", str(cache))
    return cache


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    """alpha 1.0 and 2.0; beta 1.0 needs alpha==1.0; gamma 1.0 needs beta (a chain)."""
    folder = tmp_path / "wheels"
    for version in ("1.0", "2.0"):
        build_wheel(folder, "alpha", version, {"alpha/__init__.py": f"VERSION = {version!r}\n"})
    build_wheel(folder, "beta", "1.0", {"beta/__init__.py": "import alpha\n"}, ["alpha==1.0"])
    build_wheel(folder, "gamma", "1.0", {"gamma/__init__.py": "import beta\n"}, ["beta>=1"])
    return folder


@pytest.fixture
def index(wheels: Path) -> IndexSettings:
    return IndexSettings(find_links=(str(wheels),), offline=True)


def requirements(tmp_path: Path, text: str, index: IndexSettings, name: str = "requirements.txt") -> DependencySet:
    path = tmp_path / "fn" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return read_requirements(path, index)


def wrapped_uv(tmp_path: Path, before: str = "") -> str:
    """A uv that runs ``before`` (shell) first, then the real uv; each run appends to ``runs``."""
    script = tmp_path / "uv-wrapper.sh"
    script.write_text(f'#!/bin/sh\necho "$$" >> {tmp_path / "runs"}\n{before}\nexec {uv_bin()} "$@"\n')
    script.chmod(0o755)
    return str(script)


def runs(tmp_path: Path) -> int:
    path = tmp_path / "runs"
    return len(path.read_text().split()) if path.exists() else 0


async def until(predicate: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.02)


def leftovers(data_dir: Path) -> list[str]:
    envs = data_dir / "envs"
    return sorted(p.name for p in envs.iterdir() if p.name.startswith(".build-")) if envs.exists() else []


def imported(deps_dir: Path, module: str, attribute: str) -> str:
    """What ``module.attribute`` is to a Python that imports from ``deps_dir`` first."""
    code = f"import sys; sys.path.insert(0, {str(deps_dir)!r}); import {module}; print({module}.{attribute})"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


# --- building ----------------------------------------------------------------------------------


def test_two_versions_of_one_package_each_get_their_own_folder(tmp_path: Path, index: IndexSettings) -> None:
    one = requirements(tmp_path, "alpha==1.0\n", index, "one.txt")
    two = requirements(tmp_path, "alpha==2.0\n", index, "two.txt")

    async def main() -> tuple[Path, Path]:
        async with EnvironmentBuilder(tmp_path / "data") as builder:
            return await builder.build(one, index), await builder.build(two, index)

    first, second = asyncio.run(main())
    assert first == tmp_path / "data" / "envs" / one.key / "site-packages"
    assert second == tmp_path / "data" / "envs" / two.key / "site-packages"
    assert one.key != two.key
    assert imported(first, "alpha", "VERSION") == "1.0"
    assert imported(second, "alpha", "VERSION") == "2.0"
    # Bytecode is compiled at build time: a worker cannot write it into a read-only environment.
    assert list((first / "alpha" / "__pycache__").glob("__init__.*.pyc"))
    assert leftovers(tmp_path / "data") == []


def test_a_dependency_chain_is_installed_whole(tmp_path: Path, index: IndexSettings) -> None:
    deps = requirements(tmp_path, "gamma\n", index)

    async def main() -> Path:
        async with EnvironmentBuilder(tmp_path / "data") as builder:
            return await builder.build(deps, index)

    folder = asyncio.run(main())
    assert isinstance(folder, Path)
    names = {p.name for p in folder.iterdir()}
    assert {"alpha", "beta", "gamma", "alpha-1.0.dist-info", "beta-1.0.dist-info", "gamma-1.0.dist-info"} <= names
    assert imported(folder, "gamma", "beta.alpha.VERSION") == "1.0"


def test_the_same_set_is_built_once_and_concurrent_calls_share_the_build(tmp_path: Path, index: IndexSettings) -> None:
    deps = requirements(tmp_path, "alpha==1.0\n", index)
    # The same requirements in another function's file: the same key, so the same folder.
    twin = requirements(tmp_path, "# the twin\nalpha==1.0\n", index, "twin.txt")
    assert twin.key == deps.key
    uv = wrapped_uv(tmp_path, "sleep 0.3")

    async def main() -> list[Path]:
        async with EnvironmentBuilder(tmp_path / "data", uv=uv) as builder:
            paths = await asyncio.gather(builder.build(deps, index), builder.build(twin, index), builder.build(deps, index))
            builder.request(deps, index)  # built: a no-op
            paths.append(await builder.build(twin, index))
            assert builder.state(deps.key) is BuildState.READY
            return paths

    paths = asyncio.run(main())
    assert isinstance(paths, list) and len(set(paths)) == 1
    assert runs(tmp_path) == 1
    # A new builder (a restart) finds it built and runs nothing.
    asyncio.run(main())
    assert runs(tmp_path) == 1


def test_is_built_only_once_complete_and_the_marker_says_what_was_built(tmp_path: Path, index: IndexSettings) -> None:
    deps = requirements(tmp_path, "gamma\n", index)
    go = tmp_path / "go"
    uv = wrapped_uv(tmp_path, f"while [ ! -e {go} ]; do sleep 0.02; done")
    ended: list[tuple[str, BuildState]] = []

    async def main() -> None:
        async with EnvironmentBuilder(tmp_path / "data", uv=uv) as builder:
            builder.subscribe(lambda key, state: ended.append((key, state)))
            assert builder.state(deps.key) is BuildState.MISSING
            builder.request(deps, index)
            builder.request(deps, index)  # building: a no-op
            await until(lambda: runs(tmp_path) == 1)
            assert builder.state(deps.key) is BuildState.BUILDING
            assert not builder.is_built(deps)
            assert not (tmp_path / "data" / "envs" / deps.key).exists()
            go.touch()
            await until(lambda: ended)
            assert builder.is_built(deps) and builder.state(deps.key) is BuildState.READY
            assert builder.error(deps.key) is None

    asyncio.run(main())
    assert ended == [(deps.key, BuildState.READY)]
    assert runs(tmp_path) == 1
    marker = json.loads((tmp_path / "data" / "envs" / deps.key / MARKER).read_text())
    assert marker["requirements"] == ["gamma"] and marker["key"] == deps.key
    assert any("+ gamma==1.0" in line for line in marker["uv_output"])


def test_the_marker_keeps_no_index_credentials(tmp_path: Path, wheels: Path) -> None:
    index = IndexSettings(extra_index_url=("https://user:s3cret@example.invalid/simple",), find_links=(str(wheels),), offline=True)
    deps = requirements(tmp_path, "alpha==1.0\n", index)

    async def main() -> None:
        async with EnvironmentBuilder(tmp_path / "data") as builder:
            await builder.build(deps, index)

    asyncio.run(main())
    marker = (tmp_path / "data" / "envs" / deps.key / MARKER).read_text()
    assert "s3cret" not in marker and "https://***@example.invalid/simple" in marker


def test_a_folder_without_its_marker_never_counts_and_is_replaced(tmp_path: Path, index: IndexSettings) -> None:
    deps = requirements(tmp_path, "alpha==2.0\n", index)
    half = tmp_path / "data" / "envs" / deps.key / "site-packages"
    half.mkdir(parents=True)
    (half / "alpha.py").write_text("VERSION = 'half'\n")

    async def main() -> Path:
        async with EnvironmentBuilder(tmp_path / "data") as builder:
            assert not builder.is_built(deps) and builder.state(deps.key) is BuildState.MISSING
            return await builder.build(deps, index)

    folder = asyncio.run(main())
    assert isinstance(folder, Path)
    assert not (folder / "alpha.py").exists() and imported(folder, "alpha", "VERSION") == "2.0"


def test_an_empty_set_is_an_empty_folder(tmp_path: Path, index: IndexSettings) -> None:
    deps = requirements(tmp_path, "# nothing yet\n", index)
    uv = wrapped_uv(tmp_path)

    async def main() -> Path:
        async with EnvironmentBuilder(tmp_path / "data", uv=uv) as builder:
            return await builder.build(deps, index)

    folder = asyncio.run(main())
    assert isinstance(folder, Path) and folder.is_dir() and list(folder.iterdir()) == []
    assert runs(tmp_path) == 0


def test_nothing_is_installed_into_the_platforms_environment(tmp_path: Path, wheels: Path, index: IndexSettings) -> None:
    """A set naming a package the platform has (aiosqlite) gets its own copy, in its folder only."""
    build_wheel(wheels, "aiosqlite", "0.0.1", {"aiosqlite/__init__.py": "__version__ = 'fake'\n"})
    deps = requirements(tmp_path, "aiosqlite==0.0.1\nalpha==1.0\n", index)
    site = Path(subprocess.run([sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    before = sorted(p.name for p in site.iterdir())

    async def main() -> Path:
        async with EnvironmentBuilder(tmp_path / "data") as builder:
            return await builder.build(deps, index)

    folder = asyncio.run(main())
    assert isinstance(folder, Path)
    assert imported(folder, "aiosqlite", "__version__") == "fake"
    assert sorted(p.name for p in site.iterdir()) == before
    assert not (site / "alpha").exists()
    real = subprocess.run([sys.executable, "-c", "import aiosqlite; print(aiosqlite.__version__)"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert real != "fake"


def test_offline_with_find_links_never_asks_the_index(tmp_path: Path, wheels: Path) -> None:
    """An index that answers nothing is never asked: offline builds come from find_links alone."""
    index = IndexSettings(index_url=f"http://127.0.0.1:{free_port()}/simple", find_links=(str(wheels),), offline=True)
    deps = requirements(tmp_path, "gamma\n", index)

    async def main() -> Path:
        async with EnvironmentBuilder(tmp_path / "data") as builder:
            return await builder.build(deps, index)

    folder = asyncio.run(main())
    assert isinstance(folder, Path) and (folder / "gamma" / "__init__.py").exists()


def test_at_most_two_builds_run_at_once(tmp_path: Path, index: IndexSettings) -> None:
    sets = [requirements(tmp_path, f"alpha=={v}\n", index, f"{n}.txt") for n, v in enumerate(["1.0", "2.0", "1.0, <3"])]
    go = tmp_path / "go"
    uv = wrapped_uv(tmp_path, f"while [ ! -e {go} ]; do sleep 0.02; done")
    ended: list[str] = []

    async def main() -> None:
        async with EnvironmentBuilder(tmp_path / "data", uv=uv) as builder:
            builder.subscribe(lambda key, state: ended.append(key))
            for deps in sets:
                builder.request(deps, index)
            await until(lambda: runs(tmp_path) == 2)
            await asyncio.sleep(0.3)  # a third would have started by now
            assert runs(tmp_path) == 2
            assert all(builder.state(d.key) is BuildState.BUILDING for d in sets)
            go.touch()
            await until(lambda: len(ended) == 3)

    asyncio.run(main())
    assert runs(tmp_path) == 3


# --- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("humanize==99\n", "Because humanize was not found in the cache and you require humanize==99"),
        ("alpha==3\n", "there is no version of alpha==3"),
        ("alpha==2.0\nbeta\n", "all versions of beta depend on alpha==1.0 and you require alpha==2.0"),
    ],
    ids=["no-such-package", "no-matching-version", "conflict"],
)
def test_a_failed_build_is_the_resolvers_message_and_leaves_nothing(
    tmp_path: Path, index: IndexSettings, text: str, expected: str
) -> None:
    deps = requirements(tmp_path, text, index)
    ended: list[tuple[str, BuildState]] = []

    async def main() -> str:
        async with EnvironmentBuilder(tmp_path / "data") as builder:
            builder.subscribe(lambda key, state: ended.append((key, state)))
            with pytest.raises(BuildFailed) as info:
                await builder.build(deps, index)
            assert builder.state(deps.key) is BuildState.FAILED and builder.error(deps.key) == str(info.value)
            assert not builder.is_built(deps)
            return str(info.value)

    message = asyncio.run(main())
    assert isinstance(message, str)
    assert message.startswith("No solution found when resolving dependencies: ")
    assert expected in message and "unsatisfiable" in message
    assert "\n" not in message and "Using CPython" not in message
    assert ended == [(deps.key, BuildState.FAILED)]
    assert not (tmp_path / "data" / "envs" / deps.key).exists() and leftovers(tmp_path / "data") == []


def test_offline_with_nothing_in_find_links_says_the_network_is_off(tmp_path: Path) -> None:
    empty = tmp_path / "empty-wheelhouse"
    empty.mkdir()
    index = IndexSettings(find_links=(str(empty),), offline=True)
    deps = requirements(tmp_path, "alpha==1.0\n", index)

    async def main() -> None:
        async with EnvironmentBuilder(tmp_path / "data") as builder:
            await builder.build(deps, index)

    with pytest.raises(BuildFailed) as info:
        asyncio.run(main())
    assert "Because alpha was not found in the cache and you require alpha==1.0" in str(info.value)
    assert "(hint: Packages were unavailable because the network was disabled." in str(info.value)
    assert leftovers(tmp_path / "data") == [] and not (tmp_path / "data" / "envs" / deps.key).exists()


def test_no_network_is_a_precise_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    url = f"http://127.0.0.1:{free_port()}/simple"
    index = IndexSettings(index_url=url)
    deps = requirements(tmp_path, "alpha==1.0\n", index)

    async def main() -> None:
        async with EnvironmentBuilder(tmp_path / "data") as builder:
            await builder.build(deps, index)

    with pytest.raises(BuildFailed) as info:
        asyncio.run(main())
    assert f"Failed to fetch: {url}/alpha/" in str(info.value)
    assert "Connection refused" in str(info.value)
    assert leftovers(tmp_path / "data") == []


def test_a_missing_uv_is_a_failed_build(tmp_path: Path, index: IndexSettings) -> None:
    deps = requirements(tmp_path, "alpha==1.0\n", index)

    async def main() -> None:
        async with EnvironmentBuilder(tmp_path / "data", uv=str(tmp_path / "no-uv")) as builder:
            await builder.build(deps, index)

    with pytest.raises(BuildFailed, match=r"cannot run uv \(.*no-uv\)"):
        asyncio.run(main())
    assert leftovers(tmp_path / "data") == []


def test_a_failed_set_is_built_again_when_asked(tmp_path: Path, wheels: Path, index: IndexSettings) -> None:
    deps = requirements(tmp_path, "delta==1.0\n", index)

    async def main() -> None:
        async with EnvironmentBuilder(tmp_path / "data") as builder:
            with pytest.raises(BuildFailed, match="delta was not found"):
                await builder.build(deps, index)
            build_wheel(wheels, "delta", "1.0", {"delta.py": ""})  # published meanwhile
            ended: list[BuildState] = []
            builder.subscribe(lambda key, state: ended.append(state))
            builder.request(deps, index)
            await until(lambda: ended)
            assert ended == [BuildState.READY] and builder.error(deps.key) is None

    asyncio.run(main())


def test_a_broken_listener_does_not_keep_news_from_the_others(tmp_path: Path, index: IndexSettings, caplog: pytest.LogCaptureFixture) -> None:
    deps = requirements(tmp_path, "alpha==1.0\n", index)
    heard: list[BuildState] = []

    def broken(key: str, state: BuildState) -> None:
        raise RuntimeError("listener bug")

    async def main() -> None:
        async with EnvironmentBuilder(tmp_path / "data") as builder:
            builder.subscribe(broken)
            builder.subscribe(lambda key, state: heard.append(state))
            await builder.build(deps, index)

    asyncio.run(main())
    assert heard == [BuildState.READY]
    assert "environment build listener failed" in caplog.text


# --- cancellation, kills and races -------------------------------------------------------------


def test_leaving_the_builder_kills_uv_and_leaves_nothing(tmp_path: Path, index: IndexSettings) -> None:
    deps = requirements(tmp_path, "alpha==1.0\n", index)
    pids = tmp_path / "pids"
    # uv stands in as a shell with a child: the whole process group must go, not only its leader.
    uv = wrapped_uv(tmp_path, f"sleep 600 & echo $! >> {pids}; echo $$ >> {pids}; wait")

    async def main() -> None:
        async with EnvironmentBuilder(tmp_path / "data", uv=uv) as builder:
            waiting = asyncio.ensure_future(builder.build(deps, index))
            await until(lambda: pids.exists() and len(pids.read_text().split()) == 2)
        with pytest.raises(BuildFailed, match="cancelled"):
            await waiting
        assert builder.state(deps.key) is BuildState.MISSING

    asyncio.run(main())
    for pid in map(int, pids.read_text().split()):
        deadline = time.monotonic() + 5
        while _running(pid):
            assert time.monotonic() < deadline, f"process {pid} outlived the builder"
            time.sleep(0.02)
    assert leftovers(tmp_path / "data") == [] and not (tmp_path / "data" / "envs" / deps.key).exists()


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_cancelled_caller_does_not_cancel_the_shared_build(tmp_path: Path, index: IndexSettings) -> None:
    deps = requirements(tmp_path, "alpha==1.0\n", index)
    uv = wrapped_uv(tmp_path, "sleep 0.3")

    async def main() -> None:
        async with EnvironmentBuilder(tmp_path / "data", uv=uv) as builder:
            impatient = asyncio.ensure_future(builder.build(deps, index))
            patient = asyncio.ensure_future(builder.build(deps, index))
            await until(lambda: runs(tmp_path) == 1)
            impatient.cancel()
            with pytest.raises(asyncio.CancelledError):
                await impatient
            assert await patient == builder.deps_dir(deps)

    asyncio.run(main())
    assert runs(tmp_path) == 1


def test_a_killed_builds_folder_is_swept_at_the_next_start(tmp_path: Path, index: IndexSettings) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    envs = tmp_path / "data" / "envs"
    stale = envs / f".build-0123456789abcdef-{dead.pid}-deadbeef"
    (stale / "site-packages" / "alpha").mkdir(parents=True)
    # A build of a live process (another builder at work) is left alone.
    live = envs / f".build-0123456789abcdef-{os.getppid()}-cafe0000"
    live.mkdir()

    async def main() -> None:
        async with EnvironmentBuilder(tmp_path / "data"):
            pass

    asyncio.run(main())
    assert not stale.exists() and live.exists()


def test_two_builders_racing_on_one_key_keep_the_first_folder(tmp_path: Path, index: IndexSettings) -> None:
    """As the server and ``faas deps build`` may: both build, the first rename wins, both succeed."""
    deps = requirements(tmp_path, "gamma\n", index)
    go = tmp_path / "go"
    uv = wrapped_uv(tmp_path, f"while [ ! -e {go} ]; do sleep 0.02; done")

    async def main() -> list[Path]:
        async with EnvironmentBuilder(tmp_path / "data", uv=uv) as one, EnvironmentBuilder(tmp_path / "data", uv=uv) as two:
            both = asyncio.gather(one.build(deps, index), two.build(deps, index))
            await until(lambda: runs(tmp_path) == 2)
            go.touch()
            return await both

    paths = asyncio.run(main())
    assert isinstance(paths, list) and paths[0] == paths[1]
    assert runs(tmp_path) == 2
    assert leftovers(tmp_path / "data") == []
    assert sorted(p.name for p in (tmp_path / "data" / "envs").iterdir()) == [deps.key]
    assert imported(paths[0], "gamma", "beta.alpha.VERSION") == "1.0"


def test_building_outside_the_context_manager_is_refused(tmp_path: Path, index: IndexSettings) -> None:
    deps = requirements(tmp_path, "alpha==1.0\n", index)

    async def main() -> None:
        await EnvironmentBuilder(tmp_path / "data").build(deps, index)

    with pytest.raises(RuntimeError, match="async with"):
        asyncio.run(main())


# --- uv's messages and the requirements convention ---------------------------------------------


def test_resolver_message_keeps_the_error_and_drops_the_noise() -> None:
    lines = [
        "Using CPython 3.11.7 interpreter at: /usr/bin/python3",
        "error: No solution found when resolving dependencies",
        "  cause: Because all versions of beta depend on alpha==1.0 and you require alpha==2.0, we can",
        "         conclude that your requirements and all versions of beta are incompatible.",
        "hint: Packages were unavailable because the network was disabled.",
        "      When the network is disabled, registry packages may only be read from the cache.",
    ]
    assert resolver_message(lines) == (
        "No solution found when resolving dependencies: Because all versions of beta depend on alpha==1.0 "
        "and you require alpha==2.0, we can conclude that your requirements and all versions of beta are "
        "incompatible. (hint: Packages were unavailable because the network was disabled. When the network "
        "is disabled, registry packages may only be read from the cache.)"
    )
    assert resolver_message(["Resolved 3 packages in 2ms"]) == ""


def test_requirements_path_by_key_or_by_convention(tmp_path: Path) -> None:
    functions = tmp_path / "functions"
    (functions / "pkg").mkdir(parents=True)
    (functions / "pkg" / "requirements.txt").write_text("alpha\n")
    (functions / "bare").mkdir()
    (functions / "single.py").write_text("def handler(e, c): pass\n")
    (functions / "requirements.txt").write_text("alpha\n")  # not any one function's
    (tmp_path / "explicit.txt").write_text("alpha\n")
    (tmp_path / "code").mkdir()
    (tmp_path / "config.toml").write_text(
        '[functions.pkg]\nhandler = "pkg.app.handler"\n'
        '[functions.bare]\nhandler = "bare.app.handler"\n'
        '[functions.single]\nhandler = "single.handler"\n'
        '[functions.explicit]\nhandler = "single.handler"\nrequirements = "explicit.txt"\n'
        '[functions.coded]\nhandler = "pkg.app.handler"\ncode = "code"\n'
    )
    config = load_config(tmp_path / "config.toml")
    found = {name: requirements_path(config, fn) for name, fn in config.functions.items()}
    assert found == {
        "pkg": functions / "pkg" / "requirements.txt",
        "bare": None,
        "single": None,
        "explicit": tmp_path / "explicit.txt",
        "coded": None,
    }
