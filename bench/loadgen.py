"""wrk as the load generator: installed on demand, driven through a Lua script that reports JSON.

Every run is bounded (``-d`` seconds, ``--timeout``) and targets 127.0.0.1 only.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass

MARK = "BENCH_JSON "

# done() runs once at the end of the run; latency is in microseconds.
_DONE = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"p50":%.1f,"p90":%.1f,"p99":%.1f,"mean":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class WrkResult:
    connections: int
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int  # socket errors and non-2xx/3xx answers

    def as_dict(self) -> dict[str, float | int]:
        return {
            "connections": self.connections, "requests": self.requests, "rps": round(self.rps, 1),
            "p50_ms": self.p50_ms, "p90_ms": self.p90_ms, "p99_ms": self.p99_ms, "errors": self.errors,
        }


def ensure_wrk() -> str:
    """Path to wrk, installing the Debian package if it is missing (``apt-get update`` only if needed)."""
    found = shutil.which("wrk")
    if found:
        return found
    print("bench: wrk not found; installing it with apt-get", flush=True)
    install = ["apt-get", "install", "-y", "-qq", "wrk"]
    if subprocess.run(install, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(install, check=True, stdout=subprocess.DEVNULL)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is still missing after apt-get install wrk")
    return found


def _script(method: str, headers: Mapping[str, str], body: str | None) -> str:
    lines = [f"wrk.method = {json.dumps(method)}"]
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(body)}")
    for name, value in headers.items():
        lines.append(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}")
    return "\n".join(lines) + "\n" + _DONE


def run_wrk(
    url: str,
    *,
    connections: int,
    seconds: float,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: str | None = None,
) -> WrkResult:
    """One bounded wrk run with one thread (the machine has two cores; the server gets the rest)."""
    wrk = ensure_wrk()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-") as script:
        script.write(_script(method, headers or {}, body))
        script.flush()
        cmd = [
            wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s",
            "-s", script.name, url,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout[-500:]} {proc.stderr[-500:]}")
    data = json.loads(line[len(MARK):])
    errors = sum(int(data[k]) for k in ("connect", "read", "write", "status", "timeout"))
    return WrkResult(
        connections=connections,
        requests=int(data["requests"]),
        rps=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50"] / 1000.0,
        p90_ms=data["p90"] / 1000.0,
        p99_ms=data["p99"] / 1000.0,
        errors=errors,
    )

