"""Row 9: cold start of a function in its own environment (its own dependency set, so a second
zygote serves it) against a function without requirements (the base zygote), side by side.

One ``Runtime`` in-process, as row 3. The dependency set is one tiny generated wheel, built offline
by the runtime's own ``EnvironmentBuilder`` at start (the registry keeps those functions pending
until the build ends; the section waits for that). Each sample calls a function not called before,
so each starts a new worker; samples come ``GAP`` apart and alternate between the two zygotes, the
order flipping every pair so neither always goes first. A probe imports the package through the
second zygote, and checks that a function without requirements cannot.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

from bench.report import Row, median, ms, percentile, verdict
from bench.wheels import build_wheel, uv_cache
from bench.workspace import Workspace
from faas.records import Trigger
from faas.registry import EnvState
from faas.runtime import Runtime

TARGET_MS = 1.0  # own environment's p50 within this of the shared environment's
GAP = 0.1
BUILD_WAIT = 120.0
PROBE = '''import benchdep


def handler(event, context):
    return {"version": benchdep.VERSION}
'''


async def run(*, samples: int) -> list[Row]:
    with Workspace("envcold") as ws, uv_cache(ws.root / "uv-cache"):
        build_wheel(ws.root / "wheels", "benchdep", "1.0", {"benchdep/__init__.py": "VERSION = '1.0'\n"})
        requirements = ws.root / "requirements.txt"
        requirements.write_text("benchdep==1.0\n")
        (ws.functions_dir / "probe.py").write_text(PROBE)
        own = {"handler": "noop.handler", "requirements": str(requirements)}
        # One extra function each side: the first cold start warms the page cache and the .pyc.
        shared_names = [f"shared{i:03d}" for i in range(samples + 1)]
        own_names = [f"own{i:03d}" for i in range(samples + 1)]
        functions = {
            **{n: {"handler": "noop.handler"} for n in shared_names}, **{n: own for n in own_names},
            "probe_own": {"handler": "probe.handler", "requirements": str(requirements)},
            "probe_shared": {"handler": "probe.handler"},
        }
        config = ws.config(functions=functions, executor={
            "max_workers": len(functions) + 8, "idle_timeout": 3600,
            "find_links": [str(ws.root / "wheels")], "offline": True,
        })
        async with Runtime(config, environ={}, watch=False) as rt:
            build_wait_s = await _wait_built(rt)
            await _probe(rt)

            async def sample(names: Iterator[str]) -> float:
                name = next(names)
                start = time.perf_counter()
                result = await rt.invoker.invoke(name, b"{}", trigger=Trigger.INVOKE)
                elapsed = (time.perf_counter() - start) * 1000.0
                if not (result.ok and result.cold):
                    raise RuntimeError(f"cold start of {name} failed: {result.status} {result.body[:200]!r}")
                return elapsed

            shared, owned = iter(shared_names), iter(own_names)
            await sample(shared)
            await sample(owned)
            shared_ms: list[float] = []
            own_ms: list[float] = []
            for i in range(samples):
                pair = [(shared, shared_ms), (owned, own_ms)]
                for names, out in pair if i % 2 == 0 else reversed(pair):
                    await asyncio.sleep(GAP)
                    out.append(await sample(names))
            zygotes = [z for z in rt.zygotes.describe() if z["state"] == "running"]
            if len(zygotes) != 2:
                raise RuntimeError(f"expected 2 running zygotes (base and own environment), found {zygotes}")

    own_p50, shared_p50 = median(own_ms), median(shared_ms)
    diff = own_p50 - shared_p50
    print(f"  cold start: own environment p50 {own_p50:.2f} ms (p99 {percentile(own_ms, 99):.2f}), shared "
          f"p50 {shared_p50:.2f} ms (p99 {percentile(shared_ms, 99):.2f}), difference {diff:+.2f} ms", flush=True)
    return [
        Row(
            section="9",
            measure=f"Cold start, own environment (1 requirement, 2nd zygote), p50, alone (n={samples}/{samples})",
            faas=f"{ms(own_p50)} (p99 {ms(percentile(own_ms, 99))})",
            baseline=f"{ms(shared_p50)} (p99 {ms(percentile(shared_ms, 99))}) shared environment, base zygote",
            ratio=f"{diff:+.2f} ms",
            target=f"<= +{TARGET_MS:g} ms",
            verdict=verdict(diff <= TARGET_MS),
            data={"own_ms": own_ms, "shared_ms": shared_ms, "difference_ms": diff, "build_wait_s": build_wait_s},
        ),
    ]


async def _wait_built(rt: Runtime) -> float:
    """Seconds until no function is pending (the registry serves each once its build ended); the
    build started with the runtime, so this is only what was left of it."""
    start = time.perf_counter()
    deadline = start + BUILD_WAIT
    while True:
        states = {s.name: s for s in rt.registry.status()}
        failed = [f"{s.name}: {s.error}" for s in states.values() if s.state is EnvState.FAILED]
        if failed:
            raise RuntimeError(f"environment build failed: {failed[0]}")
        if all(s.state is EnvState.READY for s in states.values()):
            return time.perf_counter() - start
        if time.perf_counter() > deadline:
            raise RuntimeError(f"environment not built after {BUILD_WAIT:g} s")
        await asyncio.sleep(0.02)


async def _probe(rt: Runtime) -> None:
    """The package imports in its own environment (starting the second zygote) and not elsewhere."""
    own = await rt.invoker.invoke("probe_own", b"{}", trigger=Trigger.INVOKE)
    if not own.ok or json.loads(own.body) != {"version": "1.0"}:
        raise RuntimeError(f"probe_own: {own.status} {own.body[:300]!r}")
    shared = await rt.invoker.invoke("probe_shared", b"{}", trigger=Trigger.INVOKE)
    if shared.ok or b"ImportModuleError" not in shared.body:
        raise RuntimeError(f"probe_shared imported benchdep without requirements: {shared.status} {shared.body[:300]!r}")
