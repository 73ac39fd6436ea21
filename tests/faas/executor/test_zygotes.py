"""faas/executor/zygotes.py with real zygotes and workers: a ``Zygotes`` supervisor and a
``WorkerPool`` on a real event loop (asyncio.run per test), without a server.

Each ``Function`` carries its own ``Environment`` whose layer folder holds its own ``mylib.py``,
so these tests can show what the server cannot be configured for yet: one zygote per environment,
each worker importing its own world, and the limits on how many zygotes run.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from faas.config import ExecutorConfig, FunctionConfig, ServerConfig
from faas.environment import Environment
from faas.exceptions import ExecutorUnavailable, Throttled
from faas.executor.handle import RunResult
from faas.executor.pool import WorkerPool
from faas.executor.runtime_libs import build_runtime
from faas.executor.zygotes import Zygotes, _backoff
from faas.records import Status
from faas.registry import Function

HANDLER = """
import os, mylib
def handler(event, context):
    return {"lib": mylib.NAME, "pid": os.getpid(), "ppid": os.getppid()}
"""


@dataclass
class World:
    root: Path
    zygotes: Zygotes
    pool: WorkerPool

    def function(self, name: str, lib: str | None, *, layer_code: str | None = None) -> Function:
        """A function ``name`` whose environment is one layer holding ``mylib.py`` with NAME = ``lib``
        (functions given the same ``lib`` share the layer folder, hence the environment)."""
        code = self.root / "code" / name
        code.mkdir(parents=True, exist_ok=True)
        (code / "app.py").write_text(HANDLER)
        layers: tuple[Path, ...] = ()
        if lib is not None:
            layer = self.root / "layers" / lib
            layer.mkdir(parents=True, exist_ok=True)
            (layer / "mylib.py").write_text(layer_code or f"NAME = {lib!r}\n")
            layers = (layer,)
        return Function(
            config=FunctionConfig(name=name, handler="app.handler", timeout=10.0),
            version=1, arn=f"arn:aws:lambda:us-east-1:000000000000:function:{name}",
            env={"PATH": "/usr/bin:/bin"}, environment=Environment.of(None, None, layers), code_paths=(str(code),),
        )

    async def run(self, fn: Function) -> RunResult:
        rid = f"r{time.monotonic_ns()}"
        meta = json.dumps({"id": rid, "arn": fn.arn, "deadline": int(time.time() * 1000) + 10000}).encode()
        result, _ = await self.pool.run(fn, rid, meta, b"{}")
        return result

    async def call(self, fn: Function) -> dict[str, Any]:
        result = await self.run(fn)
        assert result.status is Status.SUCCESS, (result.status, result.error_type, result.error_message, result.log)
        assert result.body is not None
        return json.loads(result.body)  # type: ignore[no-any-return]

    def pids(self) -> dict[str, int]:
        """Environment key -> pid of its running zygote."""
        return {z["environment"]: z["pid"] for z in self.zygotes.describe() if z["pid"] is not None}

    def states(self) -> dict[str, str]:
        return {z["environment"]: z["state"] for z in self.zygotes.describe()}


@asynccontextmanager
async def world(tmp_path: Path, **executor: Any) -> AsyncIterator[World]:
    settings = {"init_timeout": 5.0, "idle_timeout": 600.0, "queue_wait_ms": 0, **executor}
    ex = ExecutorConfig(**settings)
    server = ServerConfig(data_dir=tmp_path / "data", functions_dir=tmp_path / "functions")
    libs = build_runtime(tmp_path / "data")
    workers_dir = tmp_path / "workers"
    workers_dir.mkdir()
    async with Zygotes(ex, libs) as zygotes:
        async with WorkerPool(zygotes, ex, server, str(workers_dir)) as pool:
            yield World(tmp_path, zygotes, pool)


async def until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)
    return value


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def run(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(main())  # type: ignore[arg-type]


def test_two_environments_two_zygotes_each_worker_imports_its_own_module(tmp_path: Path) -> None:
    async def main() -> None:
        async with world(tmp_path) as w:
            red, blue, also_red = w.function("red", "red"), w.function("blue", "blue"), w.function("also_red", "red")
            assert red.environment.key == also_red.environment.key != blue.environment.key
            got = {fn.name: await w.call(fn) for fn in (red, blue, also_red)}
            assert {name: body["lib"] for name, body in got.items()} == {"red": "red", "blue": "blue", "also_red": "red"}
            pids = w.pids()
            assert set(pids) == {red.environment.key, blue.environment.key}  # one zygote per environment
            assert got["red"]["ppid"] == got["also_red"]["ppid"] == pids[red.environment.key]
            assert got["blue"]["ppid"] == pids[blue.environment.key]

    run(main)


def test_an_environments_own_boto3_wins_over_the_runtimes(tmp_path: Path) -> None:
    async def main() -> None:
        async with world(tmp_path) as w:
            fn = w.function("own", "own")
            layer = fn.environment.layer_paths[0]
            (layer / "boto3").mkdir()
            (layer / "boto3" / "__init__.py").write_text("__version__ = '0.0.mine'\n")
            code = Path(fn.code_paths[0])
            (code / "app.py").write_text(
                "import boto3, botocore\n"
                "def handler(event, context):\n"
                "    return {'boto3': boto3.__version__, 'botocore': botocore.__file__}\n"
            )
            result = await w.run(fn)
            assert result.body is not None, result
            body = json.loads(result.body)
            assert body["boto3"] == "0.0.mine"  # the layer's, before the runtime's
            assert "/runtime/python3." in body["botocore"]  # what the environment lacks comes from the runtime

    run(main)


def test_least_recently_used_idle_zygote_stops_first_at_max_zygotes(tmp_path: Path) -> None:
    async def main() -> None:
        async with world(tmp_path, max_zygotes=2) as w:
            a, b, c = w.function("a", "a"), w.function("b", "b"), w.function("c", "c")
            await w.call(a)
            await w.call(b)
            first = w.pids()
            for fn in (b, a):  # retire their workers, b's first: b is the least recently used
                w.pool.set_version(fn.name, 2)
                key = fn.environment.key
                await until(lambda: {z["environment"]: z["workers"] for z in w.zygotes.describe()}[key] == 0,
                            what=f"{fn.name}'s worker to exit")
            assert (await w.call(c))["lib"] == "c"
            running = w.pids()
            assert set(running) == {a.environment.key, c.environment.key}  # b, the least recently used, stopped
            await until(lambda: not alive(first[b.environment.key]), what="b's zygote to exit")
            assert running[a.environment.key] == first[a.environment.key]

    run(main)


def test_at_max_zygotes_with_no_idle_one_the_spawn_throttles(tmp_path: Path) -> None:
    async def main() -> None:
        async with world(tmp_path, max_zygotes=1) as w:
            a, b = w.function("a", "a"), w.function("b", "b")
            await w.call(a)  # a keeps a warm worker: its zygote is not idle
            with pytest.raises(Throttled) as refused:
                await w.call(b)
            assert refused.value.function == "b"
            assert "server limit of 1 zygotes (executor.max_zygotes)" in str(refused.value)
            assert f"environment {b.environment.key}" in str(refused.value)
            assert set(w.pids()) == {a.environment.key}

    run(main)


def test_a_zygote_without_workers_stops_after_idle_timeout_and_starts_again_on_use(tmp_path: Path) -> None:
    async def main() -> None:
        async with world(tmp_path, idle_timeout=0.3) as w:
            a = w.function("a", "a")
            first = await w.call(a)
            zygote = first["ppid"]
            # the pool retires the idle worker after idle_timeout, then the zygote stops
            await until(lambda: not alive(zygote), what="the idle zygote to stop")
            assert not alive(first["pid"])
            assert w.states()[a.environment.key] == "stopped"
            assert w.zygotes.problem() is None  # stopped for lack of work is not a problem
            again = await w.call(a)
            assert again["ppid"] != zygote and again["lib"] == "a"

    run(main)


def test_a_killed_zygote_fails_its_waiting_spawns_at_once_and_restarts_on_the_next_call(tmp_path: Path) -> None:
    async def main() -> None:
        async with world(tmp_path, init_timeout=5.0) as w:
            fns = [w.function(f"f{i}", "lib") for i in range(4)]
            first = await w.call(fns[0])
            zygote, worker = first["ppid"], first["pid"]
            os.kill(zygote, signal.SIGSTOP)  # spawns now wait on it ...
            waiting = [asyncio.ensure_future(w.call(fn)) for fn in fns[1:]]
            await asyncio.sleep(0.3)
            started = time.monotonic()
            os.kill(zygote, signal.SIGKILL)  # ... and fail as soon as it is gone
            outcomes = await asyncio.gather(*waiting, return_exceptions=True)
            assert time.monotonic() - started < 1.0
            for outcome in outcomes:
                assert isinstance(outcome, ExecutorUnavailable), outcome
                assert str(outcome).endswith(f"cannot start a worker: the zygote of environment {fns[0].environment.key} "
                                             "(1 layers) exited unexpectedly")
            await until(lambda: not alive(worker), what="its warm worker to die with it")
            assert w.zygotes.problem() is None  # merely restarting
            again = await w.call(fns[1])
            assert again["ppid"] != zygote and again["lib"] == "lib"
            assert time.monotonic() - started < 1.0

    run(main)


def test_a_stopped_zygote_fails_spawns_within_init_timeout_is_reported_then_killed_and_replaced(tmp_path: Path) -> None:
    async def main() -> None:
        async with world(tmp_path, init_timeout=1.0) as w:
            a, b, c = (w.function(name, "lib") for name in "abc")
            zygote = (await w.call(a))["ppid"]
            os.kill(zygote, signal.SIGSTOP)
            started = time.monotonic()
            with pytest.raises(ExecutorUnavailable, match=r"b: cannot start a worker: the zygote of environment \w+ "
                                                          r"\(1 layers\) did not answer within 1.00 s"):
                await w.call(b)
            assert time.monotonic() - started < 1.3
            problem = w.zygotes.problem()
            assert problem is not None and "has not answered for" in problem, problem
            await until(lambda: not alive(zygote), 3, what="the hung zygote to be killed")
            assert w.zygotes.problem() is None
            assert (await w.call(c))["ppid"] != zygote

    run(main)


def test_preload_is_per_environment_and_a_zygote_that_cannot_start_is_a_problem(
    tmp_path: Path, capfd: pytest.CaptureFixture[str],
) -> None:
    async def main() -> None:
        async with world(tmp_path, preload=("mylib",), init_timeout=3.0) as w:
            fine, broken = w.function("fine", "fine"), w.function("broken", "broken", layer_code="import os\nos._exit(3)\n")
            plain = w.function("plain", None)  # no layer: its environment cannot import the preload
            assert (await w.call(fine))["lib"] == "fine"
            result = await w.run(plain)  # its zygote started all the same; the handler's own import fails
            assert result.error_type == "Runtime.ImportModuleError", result
            with pytest.raises(ExecutorUnavailable, match=r"exited while starting \(exit status 3\)"):
                await w.call(broken)
            problem = w.zygotes.problem()
            assert problem is not None and f"environment {broken.environment.key}" in problem
            assert "exited while starting (exit status 3)" in problem
            # right after a failed start the next one waits for its backoff; a call that cannot wait
            # that long fails at once
            w.zygotes.update_settings(ExecutorConfig(init_timeout=0.05, preload=("mylib",)))
            with pytest.raises(ExecutorUnavailable, match="1 failures in a row, the next start is in"):
                await w.call(broken)

    run(main)
    err = capfd.readouterr().err
    assert "preload of 'mylib' skipped: No module named 'mylib'" in err


def test_backoff_doubles_from_a_tenth_of_a_second_to_five() -> None:
    assert [_backoff(n) for n in range(1, 9)] == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]


def test_closing_leaves_no_zygote_or_worker_behind(tmp_path: Path) -> None:
    pids: list[int] = []

    async def main() -> None:
        async with world(tmp_path) as w:
            for name in ("a", "b", "c"):
                body = await w.call(w.function(name, name))
                pids.extend([body["pid"], body["ppid"]])
            os.kill(pids[-1], signal.SIGSTOP)  # even a stopped zygote goes
            assert all(alive(p) for p in pids)

    started = time.monotonic()
    run(main)
    assert time.monotonic() - started < 5
    assert not [p for p in pids if alive(p)]
