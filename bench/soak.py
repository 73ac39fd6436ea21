"""Soak test: mixed traffic against a real server for a long time; memory, processes and file
descriptors must stay flat. Not part of CI: ``make soak`` (SOAK_SECONDS, default 1800).

Traffic: fast HTTP calls, Invoke API calls, handler errors, timeouts, throttled bursts, API-key
routes, WebSocket sessions and hot reloads. Every 10 s it samples the server's RSS and open fds,
the zygote's RSS, and how many processes the server tree holds. At the end it prints the samples
and compares the first steady quarter with the last one.
"""

from __future__ import annotations

import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import httpx
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "soak-admin-key"

FUNCTIONS = {
    "soak.py": """
        import os, time
        STATE = {"n": 0}
        def fast(event, context):
            STATE["n"] += 1
            return {"n": STATE["n"]}
        def slow(event, context):
            time.sleep(0.2)
            return "slow"
        def fail(event, context):
            raise ValueError("soak failure")
        def hang(event, context):
            time.sleep(30)
        def chatty(event, context):
            print("x" * 10000)
            return len(os.listdir("/proc/self/fd"))
        def ws(event, context):
            return {"statusCode": 200, "body": event.get("body") or ""}
    """,
}
CONFIG = """
[server]
host = "127.0.0.1"
port = {port}
[executor]
max_workers = 32
idle_timeout = 20
queue_wait_ms = 50
[usage_plans.soak]
rate = 50
burst = 20
[functions.fast]
handler = "soak.fast"
[functions.slow]
handler = "soak.slow"
concurrency = 2
[functions.fail]
handler = "soak.fail"
[functions.hang]
handler = "soak.hang"
timeout = 1
[functions.chatty]
handler = "soak.chatty"
[functions.ws]
handler = "soak.ws"
[[routes]]
method = "GET"
path = "/fast"
function = "fast"
[[routes]]
method = "GET"
path = "/slow"
function = "slow"
[[routes]]
method = "GET"
path = "/keyed"
function = "fast"
auth = "api_key"
[[websockets]]
path = "/ws"
[websockets.routes]
"$default" = "ws"
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    seconds = float(os.environ.get("SOAK_SECONDS", "1800"))
    work = Path(tempfile.mkdtemp(prefix="faas-soak-"))
    (work / "functions").mkdir()
    for name, code in FUNCTIONS.items():
        (work / "functions" / name).write_text(textwrap.dedent(code))
    port = free_port()
    (work / "config.toml").write_text(CONFIG.format(port=port))
    env = dict(os.environ, FAAS_ADMIN_KEY=ADMIN)
    log = open(work / "server.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "faas", "serve", "--config", str(work / "config.toml")],
                              stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            print("server did not start", file=sys.stderr)
            return 1
        time.sleep(0.1)
    key = httpx.post(f"{url}/admin/api/keys", json={"name": "soak", "plan": "soak"},
                     headers={"Authorization": f"Bearer {ADMIN}"}).json()["secret"]
    stop = threading.Event()
    counts: dict[str, int] = {}
    lock = threading.Lock()

    def count(what: str) -> None:
        with lock:
            counts[what] = counts.get(what, 0) + 1

    def http_load(seed: int) -> None:
        rnd = random.Random(seed)
        with httpx.Client(base_url=url, timeout=30) as c:
            while not stop.is_set():
                pick = rnd.random()
                try:
                    if pick < 0.5:
                        r = c.get("/fast")
                    elif pick < 0.6:
                        r = c.get("/slow")
                    elif pick < 0.7:
                        r = c.get("/keyed", headers={"x-api-key": key})
                    elif pick < 0.8:
                        r = c.post("/2015-03-31/functions/fail/invocations", content=b"{}",
                                   headers={"Authorization": f"Bearer {ADMIN}"})
                    elif pick < 0.82:
                        r = c.post("/2015-03-31/functions/hang/invocations", content=b"{}",
                                   headers={"Authorization": f"Bearer {ADMIN}"})
                    else:
                        r = c.post("/2015-03-31/functions/chatty/invocations", content=b"{}",
                                   headers={"Authorization": f"Bearer {ADMIN}", "X-Amz-Log-Type": "Tail"})
                    count(str(r.status_code))
                except httpx.HTTPError as exc:
                    count(type(exc).__name__)

    def ws_load() -> None:
        while not stop.is_set():
            try:
                with connect(f"ws://127.0.0.1:{port}/ws") as ws:
                    for i in range(20):
                        ws.send(f"hello {i}")
                        ws.recv(timeout=10)
                count("ws-session")
            except Exception as exc:  # noqa: BLE001 - counted, not fatal
                count(f"ws-{type(exc).__name__}")

    def reloads() -> None:
        path = work / "functions" / "soak.py"
        while not stop.wait(60):
            path.write_text(path.read_text() + "\n# reload\n")
            count("reload")

    threads = [threading.Thread(target=http_load, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=ws_load), threading.Thread(target=reloads)]
    for t in threads:
        t.start()
    samples = []
    start = time.monotonic()
    try:
        while time.monotonic() - start < seconds:
            time.sleep(10)
            pids = tree(server.pid)
            # workers are forks of the zygote and share its command line: the zygote is the server's child
            zygotes = [p for p in pids if p != server.pid and _ppid(p) == server.pid]
            sample = {
                "t": round(time.monotonic() - start),
                "server_rss_mb": round(rss_kib(server.pid) / 1024, 1),
                "zygote_rss_mb": round(sum(rss_kib(z) for z in zygotes) / 1024, 1),
                "server_fds": len(os.listdir(f"/proc/{server.pid}/fd")),
                "processes": len(pids),
                "requests": sum(v for k, v in counts.items() if k[:1].isdigit()),
            }
            samples.append(sample)
            print(json.dumps(sample), flush=True)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        log.close()
    leftovers = [p for p in tree(server.pid) if p != server.pid]
    quarter = max(1, len(samples) // 4)
    first, last = samples[quarter : 2 * quarter] or samples[:1], samples[-quarter:]
    print("\ncounts:", json.dumps(dict(sorted(counts.items()))))
    for field in ("server_rss_mb", "zygote_rss_mb", "server_fds", "processes"):
        a = statistics.mean(s[field] for s in first)
        b = statistics.mean(s[field] for s in last)
        print(f"{field:15} second quarter {a:8.1f}   last quarter {b:8.1f}   change {b - a:+8.1f}")
    print(f"processes left after shutdown: {len(leftovers)}")
    print(f"work dir: {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
