"""The "spawn" baseline: a fresh ``python3 -c`` worker that imports the handler and answers over a pipe.

This is what a platform without a zygote does for a cold start: exec the interpreter, import the
handler, serve. It runs the same interpreter as the zygote (``sys.executable``) with a scrubbed
environment like a real worker's.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# One JSON event per line in, one JSON result per line out, until stdin closes.
WORKER_SOURCE = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
module, _, attr = sys.argv[2].rpartition(".")
handler = getattr(importlib.import_module(module), attr)
for line in sys.stdin:
    sys.stdout.write(json.dumps(handler(json.loads(line), None)) + "\\n")
    sys.stdout.flush()
"""


def _env() -> dict[str, str]:
    bin_dir = os.path.dirname(sys.executable)
    return {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}


@dataclass(slots=True)
class SpawnedWorker:
    process: asyncio.subprocess.Process
    first_response_ms: float

    @property
    def pid(self) -> int:
        return self.process.pid

    async def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 5)
        except asyncio.TimeoutError:
            self.process.kill()
            await self.process.wait()


async def spawn_worker(functions_dir: Path, handler: str, event: bytes = b"{}") -> SpawnedWorker:
    """Start a worker and time it from exec to its first answer; the caller closes it."""
    start = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WORKER_SOURCE, str(functions_dir), handler,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=_env(), cwd=str(functions_dir),
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(event + b"\n")
    await process.stdin.drain()
    line = await process.stdout.readline()
    elapsed = (time.perf_counter() - start) * 1000.0
    worker = SpawnedWorker(process=process, first_response_ms=elapsed)
    try:
        json.loads(line)
    except ValueError:
        await worker.close()
        raise RuntimeError(f"the spawned worker did not answer: {line!r}") from None
    return worker
