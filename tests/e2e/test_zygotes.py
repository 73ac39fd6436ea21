"""What a function sees, and the zygotes' supervision, against real servers and real processes.

A function without requirements sees the standard library, boto3 (as Lambda's runtime gives it) and
its own code: never the platform's packages, not even through a ``python3`` subprocess. A zygote
that is SIGKILLed fails the calls waiting on it at once and is replaced on the next call; one that
is SIGSTOPped fails cold starts within ``init_timeout``, makes ``/healthz`` say why, and is killed
and replaced. Nothing is left behind after shutdown.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_KEY, Server, start_server, wait_for

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
FORBIDDEN = ("starlette", "jinja2", "cryptography", "faas")

FUNCTIONS = {
    **{f"needs_{name}.py": f"import {name}\ndef handler(event, context):\n    return 1\n" for name in FORBIDDEN},
    "mylib.py": "NAME = 'mine'\n",
    "world.py": """
        import importlib.metadata, os, subprocess, sys
        import boto3, botocore, mylib
        def handler(event, context):
            sub = subprocess.run(
                ["python3", "-c", "import sys, boto3, mylib; print(mylib.NAME, boto3.__version__, sys.executable); import starlette"],
                capture_output=True, text=True)
            return {
                "boto3": boto3.__version__, "botocore": botocore.__version__,
                "boto3_metadata": importlib.metadata.version("boto3"), "boto3_file": boto3.__file__,
                "mylib": mylib.NAME, "sys_path": sys.path, "executable": sys.executable,
                "PATH": os.environ["PATH"], "PYTHONPATH": os.environ["PYTHONPATH"],
                "LAMBDA_TASK_ROOT": os.environ["LAMBDA_TASK_ROOT"], "cwd": os.getcwd(),
                "sub_out": sub.stdout, "sub_err": sub.stderr.strip().splitlines()[-1:],
                "platform_modules": sorted(m for m in sys.modules if m.split(".")[0] in ("faas", "gateway", "scheduler")),
            }
    """,
    "hello.py": "def handler(event, context):\n    return {'hello': event.get('name', 'world')}\n",
    "caller.py": """
        import json, boto3
        def handler(event, context):
            client = boto3.client("lambda")  # AWS_ENDPOINT_URL and credentials come from the platform
            r = client.invoke(FunctionName="hello", Payload=json.dumps({"name": "from caller"}))
            return json.loads(r["Payload"].read())
    """,
    "work.py": """
        import os, time
        def handler(event, context):
            time.sleep(event.get("s", 0))
            return os.getpid()
    """,
    **{f"cold{i}.py": "import os\ndef handler(event, context):\n    return os.getpid()\n" for i in range(40)},
}

CONFIG = "\n".join([
    "[executor]",
    "init_timeout = 3",
    *(f'[functions.needs_{name}]\nhandler = "needs_{name}.handler"' for name in FORBIDDEN),
    '[functions.world]\nhandler = "world.handler"\ntimeout = 20',
    '[functions.hello]\nhandler = "hello.handler"',
    '[functions.caller]\nhandler = "caller.handler"\ntimeout = 30',
    '[functions.work]\nhandler = "work.handler"\nconcurrency = 20',
    *(f'[functions.cold{i}]\nhandler = "cold{i}.handler"' for i in range(40)),
]) + "\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("world"), FUNCTIONS, CONFIG)
    yield srv
    srv.stop()


def zygotes(srv: Server) -> list[dict[str, Any]]:
    r = srv.client.get("/healthz", headers=ADMIN)
    return r.json()["zygotes"]  # type: ignore[no-any-return]


def zygote_pid(srv: Server) -> int:
    pids = [z["pid"] for z in zygotes(srv) if z["pid"]]
    assert len(pids) == 1, pids
    return int(pids[0])


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line mentions ``text`` (a zygote's and its workers' name the
    runtime's python, under the server's data_dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace") and alive(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


# --- what a function sees ----------------------------------------------------------------------


@pytest.mark.parametrize("module", FORBIDDEN)
def test_a_function_without_requirements_cannot_import_the_platforms_packages(server: Server, module: str) -> None:
    r = server.invoke(f"needs_{module}")
    assert r.status_code == 200 and r.headers["x-amz-function-error"] == "Unhandled"
    body = r.json()
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == f"Unable to import module 'needs_{module}': No module named '{module}'"


def test_a_function_sees_the_standard_library_boto3_and_its_own_code(server: Server) -> None:
    r = server.invoke("world")
    assert r.status_code == 200, r.text
    seen = r.json()
    import boto3

    assert seen["boto3"] == seen["boto3_metadata"] == boto3.__version__
    runtime = server.data_dir / "runtime"
    assert seen["boto3_file"].startswith(str(runtime)), seen["boto3_file"]
    assert seen["mylib"] == "mine" and seen["platform_modules"] == []
    assert seen["sys_path"][0] == str(server.functions_dir) == seen["LAMBDA_TASK_ROOT"] == seen["cwd"]
    venv = str(Path(sys.prefix))
    here = str(Path(__file__).resolve().parents[2])
    for entry in seen["sys_path"]:
        if not entry.startswith(str(runtime)):
            assert not entry.startswith((venv, here)) and "site-packages" not in entry, entry
    # PATH leads to the runtime's python (the base interpreter), not to the platform's virtualenv
    first = seen["PATH"].split(":")[0]
    assert first.startswith(str(runtime)) and not seen["PATH"].startswith(venv)
    assert seen["executable"] == f"{first}/python3"
    assert seen["PYTHONPATH"].split(":")[0] == str(server.functions_dir)
    # a subprocess python3 sees what the handler sees: its code and boto3, not the platform
    assert seen["sub_out"].split()[:2] == ["mine", boto3.__version__], seen
    assert seen["sub_out"].split()[2] == seen["executable"]
    assert seen["sub_err"] == ["ModuleNotFoundError: No module named 'starlette'"]


def test_boto3_in_a_function_calls_back_into_the_server(server: Server) -> None:
    r = server.invoke("caller")
    assert r.status_code == 200, r.text
    assert r.json() == {"hello": "from caller"}


def test_zygote_pids_are_for_the_admin_only(server: Server) -> None:
    public = server.client.get("/healthz")
    assert public.status_code == 200 and public.json() == {"status": "ok"}
    detail = zygotes(server)
    assert detail and all(isinstance(z["pid"], int) and z["state"] == "running" for z in detail)


# --- supervision --------------------------------------------------------------------------------


def invoke(srv: Server, name: str, payload: Any = None) -> tuple[float, int, str]:
    """(seconds it took, status, body) of one Invoke API call on a client of its own."""
    started = time.monotonic()
    with httpx.Client(base_url=srv.url, timeout=30) as client:
        r = client.post(f"/2015-03-31/functions/{name}/invocations", content=json.dumps(payload or {}), headers=ADMIN)
    return time.monotonic() - started, r.status_code, r.text


def test_sigkill_of_the_zygote_mid_traffic(make_server: Any) -> None:
    srv = make_server(FUNCTIONS, CONFIG)
    warm: list[tuple[float, float, int, str]] = []  # (ended at, took, status, body)
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            took, status, body = invoke(srv, "work", {"s": 0.02})
            warm.append((time.monotonic(), took, status, body))

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: sum(1 for w in warm if w[2] == 200) > 30, 30, what="warm traffic")
        zygote = zygote_pid(srv)
        # Stopped first, so cold starts are surely waiting on it when it dies.
        os.kill(zygote, signal.SIGSTOP)
        cold: list[tuple[float, int, str]] = []
        waiting = [threading.Thread(target=lambda i=i: cold.append(invoke(srv, f"cold{i}"))) for i in range(5)]
        for t in waiting:
            t.start()
        time.sleep(0.5)
        killed_at = time.monotonic()
        os.kill(zygote, signal.SIGKILL)
        for t in waiting:
            t.join()
        # the calls waiting on it failed as soon as it was gone, saying why
        assert len(cold) == 5
        for took, status, body in cold:
            assert status == 500 and took < 3.0, (took, status, body)
            message = json.loads(body)["message"]
            assert message.startswith("cold") and ": cannot start a worker: the zygote of environment " in message
            assert message.endswith("(standard library and boto3 only) exited unexpectedly"), message
        assert time.monotonic() - killed_at < 0.5
        assert srv.client.get("/healthz").status_code == 200  # merely restarting
        # within a second calls succeed again, warm traffic and new cold starts alike
        took, status, body = invoke(srv, "cold10")
        assert status == 200, body
        wait_for(lambda: any(w[2] == 200 and w[0] - w[1] > killed_at for w in warm), 1.0, what="warm traffic to recover")
        assert time.monotonic() - killed_at < 1.0
        new = zygote_pid(srv)
        assert new != zygote and not alive(zygote)
    finally:
        stop.set()
        for t in threads:
            t.join()
    # calls that were running on its workers failed with the cause; none took longer than init_timeout
    failed = [w for w in warm if w[2] != 200]
    for _, took, status, body in failed:
        assert took < 3.0, (took, body)
        # a call on a worker of the dead zygote, or one that needed a new worker while it was gone
        assert ("Runtime exited with error: signal: killed (the zygote of environment" in body
                or ": cannot start a worker: the zygote of environment " in body), body
    assert srv.client.get("/healthz").status_code == 200
    assert f"the zygote (pid {zygote}) of environment" in srv.log()


def test_a_stopped_zygote_fails_cold_starts_within_init_timeout_and_healthz_says_why(make_server: Any) -> None:
    srv = make_server(FUNCTIONS, CONFIG)
    assert srv.invoke("cold0").status_code == 200
    zygote = zygote_pid(srv)
    os.kill(zygote, signal.SIGSTOP)
    result: list[tuple[float, int, str]] = []
    call = threading.Thread(target=lambda: result.append(invoke(srv, "cold1")))
    call.start()
    health = wait_for(lambda: (h := srv.client.get("/healthz")).status_code == 503 and h, 3, what="healthz 503")
    reason = health.json()["reason"]
    assert set(health.json()) == {"status", "reason"} and health.json()["status"] == "unavailable"
    assert reason.startswith("the zygote of environment ") and " has not answered for " in reason, reason
    assert str(zygote) not in reason  # no pids in public answers
    call.join()
    took, status, body = result[0]
    assert status == 500 and took < 3.5, (took, body)
    assert "cold1: cannot start a worker: the zygote of environment" in body
    assert "did not answer within 3.00 s" in body or "did not answer for" in body, body
    # it was killed as hung; the next call starts a new one
    wait_for(lambda: not alive(zygote), 5, what="the stopped zygote to be killed")
    assert srv.invoke("cold2").status_code == 200
    assert srv.client.get("/healthz").status_code == 200
    assert zygote_pid(srv) != zygote


def test_shutdown_leaves_no_zygote_or_worker_behind(make_server: Any) -> None:
    srv = make_server(FUNCTIONS, CONFIG)
    pids = [json.loads(invoke(srv, f"cold{i}")[2]) for i in range(3)]
    zygote = zygote_pid(srv)
    os.kill(zygote, signal.SIGSTOP)  # even a stopped one
    mentioning = processes_mentioning(str(srv.data_dir))
    assert set(pids) | {zygote} <= set(mentioning)
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 10
    assert "faas stopped cleanly" in srv.log()
    assert not [p for p in pids + [zygote] if alive(p)]
    assert processes_mentioning(str(srv.data_dir)) == []
