"""Execution environments end to end: each function's own dependencies (built with uv from wheels the
test makes, offline), shared builds and zygotes, versions that wait for their build, code zips and
layers. Every server here is real; so are the builds and the worker processes."""

from __future__ import annotations

import json
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN_KEY, Server, start_server, wait_for
from tests.wheels import build_wheel

REPORT = """
    import os, sys
    import pinpkg

    def handler(event, context):
        return {"version": pinpkg.VERSION, "zygote": os.getppid(), "file": pinpkg.__file__}
"""


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``serve(functions, config, root=None, **kw)``: a real server (in ``tmp_path/srv`` unless
    ``root`` is given); all are stopped at the end."""
    started: list[Server] = []

    def start(functions: dict[str, str], config: str, *, root: Path | None = None, **kwargs: Any) -> Server:
        server = start_server(root or tmp_path / "srv", functions, config, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def wheelhouse(tmp_path: Path) -> Path:
    """Two releases of one tiny package (and a third package), as wheels in a folder."""
    house = tmp_path / "wheels"
    house.mkdir()
    for version in ("1.0", "2.0"):
        build_wheel(house, "pinpkg", version, {"pinpkg/__init__.py": f'VERSION = "{version}"\n'})
    build_wheel(house, "otherpkg", "0.1", {"otherpkg/__init__.py": "NAME = 'other'\n"}, requires=["pinpkg==1.0"])
    return house


def offline(house: Path) -> str:
    return f'[executor]\nfind_links = ["{house}"]\noffline = true\n'


def functions_json(srv: Server) -> dict[str, dict[str, Any]]:
    r = srv.client.get("/admin/api/functions", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert r.status_code == 200, r.text
    return {f["name"]: f for f in r.json()["functions"]}


def call(srv: Server, name: str) -> dict[str, Any]:
    r = srv.invoke(name)
    assert r.status_code == 200 and "x-amz-function-error" not in r.headers, r.text
    return r.json()  # type: ignore[no-any-return]


def test_each_function_sees_its_own_pins_and_equal_sets_share_a_build_and_a_zygote(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    house = wheelhouse(tmp_path)
    srv = serve(
        {
            "one/__init__.py": "", "one/app.py": REPORT, "one/requirements.txt": "pinpkg==1.0\n",
            "two/__init__.py": "", "two/app.py": REPORT, "two/requirements.txt": "pinpkg==2.0\n",
            # the same set as one's, written differently: one build, one environment, one zygote
            "three/__init__.py": "", "three/app.py": REPORT, "three/requirements.txt": "# pinned\npinpkg==1.0\n\n",
        },
        offline(house) + """
        [functions.one]
        handler = "one.app.handler"
        [functions.two]
        handler = "two.app.handler"
        [functions.three]
        handler = "three.app.handler"
        """,
    )
    states = srv.wait_environments()
    assert {f["name"]: f["state"] for f in states} == {"one": "ready", "two": "ready", "three": "ready"}
    one, two, three = call(srv, "one"), call(srv, "two"), call(srv, "three")
    assert (one["version"], two["version"], three["version"]) == ("1.0", "2.0", "1.0")
    assert one["file"].startswith(str(srv.data_dir / "envs"))  # never the platform's environment
    envs = functions_json(srv)
    assert envs["one"]["environment"] == envs["three"]["environment"] != envs["two"]["environment"]
    assert one["zygote"] == three["zygote"] != two["zygote"]
    built = [p for p in (srv.data_dir / "envs").iterdir() if not p.name.startswith(".")]
    assert len(built) == 2, built


def test_a_requirements_edit_under_load_switches_over_with_no_failed_call(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    house = wheelhouse(tmp_path)
    srv = serve(
        {"lib/__init__.py": "", "lib/app.py": REPORT, "lib/requirements.txt": "pinpkg==1.0\n"},
        offline(house) + '[functions.lib]\nhandler = "lib.app.handler"\nconcurrency = 4\n',
    )
    srv.wait_environments()
    assert call(srv, "lib")["version"] == "1.0"
    seen: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            r = srv.invoke("lib")
            if r.status_code != 200 or "x-amz-function-error" in r.headers:
                failures.append(f"{r.status_code} {r.text}")
            else:
                seen.append(r.json()["version"])

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        (srv.functions_dir / "lib" / "requirements.txt").write_text("pinpkg==2.0\n")
        wait_for(lambda: seen and seen[-1] == "2.0", 60, what="the new version serving")
        # a requirement that cannot be met: the error is reported, version 2.0 serves on
        (srv.functions_dir / "lib" / "requirements.txt").write_text("pinpkg==9.9\n")
        failed = wait_for(lambda: (f := functions_json(srv)["lib"])["state"] == "failed" and f, 60,
                          what="the failed build")
        assert "pinpkg" in failed["error"] and "9.9" in failed["error"], failed
        n = len(seen)
        wait_for(lambda: len(seen) > n + 20, 30, what="more calls after the failed build")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not failures, failures[:5]
    first_new = seen.index("2.0")
    assert set(seen[:first_new]) == {"1.0"} and set(seen[first_new:]) == {"2.0"}
    # a requirements file that does not parse: refused with the file and line, 2.0 still serves
    (srv.functions_dir / "lib" / "requirements.txt").write_text("pinpkg==2.0\n--index-url http://x\n")
    bad = wait_for(lambda: (f := functions_json(srv)["lib"])["error"] and "line 2" in f["error"] and f, 30,
                   what="the parse error")
    assert "requirements.txt" in bad["error"]
    assert call(srv, "lib")["version"] == "2.0"
    status = srv.faas("status")
    assert status.returncode == 0 and "lib" in status.stdout and "failed" in status.stdout, status


def test_a_function_whose_environment_is_building_answers_a_clear_error(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    house = wheelhouse(tmp_path)
    srv = serve(
        {"lib/__init__.py": "", "lib/app.py": REPORT, "lib/requirements.txt": "pinpkg==7.0\n",
         "plain.py": "def handler(event, context):\n    return 'ok'\n"},
        offline(house) + """
        [functions.lib]
        handler = "lib.app.handler"
        [functions.plain]
        handler = "plain.handler"
        [[routes]]
        path = "/lib"
        function = "lib"
        """,
    )
    failed = wait_for(lambda: (f := functions_json(srv)["lib"])["state"] == "failed" and f, 60, what="the failed build")
    assert failed["version"] is None
    r = srv.invoke("lib")
    assert r.status_code == 409 and r.headers["x-amzn-errortype"] == "ResourceConflictException", r.text
    assert "Failed" in r.json()["message"] and "pinpkg" in r.json()["message"]
    r = srv.client.get("/lib")
    assert r.status_code == 503 and r.json() == {"message": "Service Unavailable"} and r.headers["retry-after"]
    assert call(srv, "plain") == "ok"  # everything else serves
    # fixing the requirement builds and serves it
    (srv.functions_dir / "lib" / "requirements.txt").write_text("pinpkg==2.0\n")
    wait_for(lambda: srv.invoke("lib").status_code == 200, 60, what="the fixed function")
    assert call(srv, "lib")["version"] == "2.0"


def make_zip(path: Path, files: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    tmp.replace(path)
    return path


def test_a_code_zip_with_vendored_dependencies_runs_and_replacing_it_reloads(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    root = tmp_path / "srv"
    make_zip(root / "dist" / "app.zip", {
        "app.py": "import vendored\n\ndef handler(event, context):\n    return vendored.WHO\n",
        "vendored/__init__.py": "WHO = 'zip one'\n",
    })
    srv = serve({}, '[functions.zipped]\nhandler = "app.handler"\ncode = "dist/app.zip"\n', root=root)
    assert call(srv, "zipped") == "zip one"
    make_zip(root / "dist" / "app.zip", {
        "app.py": "import vendored\n\ndef handler(event, context):\n    return vendored.WHO\n",
        "vendored/__init__.py": "WHO = 'zip two'\n",
    })
    wait_for(lambda: srv.invoke("zipped").json() == "zip two", 30, what="the replaced zip serving")
    # a corrupt zip is refused with a message naming the function and the file; zip two serves on
    (root / "dist" / "app.zip").write_bytes(b"PK\x03\x04 not really a zip")
    bad = wait_for(lambda: (f := functions_json(srv)["zipped"])["error"] and f, 30, what="the refusal")
    assert "zipped" in bad["error"] and "app.zip" in bad["error"], bad
    assert call(srv, "zipped") == "zip two"


def test_layers_are_importable_and_a_later_layer_wins(serve: Callable[..., Server], tmp_path: Path) -> None:
    root = tmp_path / "srv"
    make_zip(root / "layers" / "first.zip", {"python/mylib.py": "WHO = 'first'\n", "python/onlyfirst.py": "X = 1\n"})
    make_zip(root / "layers" / "second.zip", {"python/mylib.py": "WHO = 'second'\n"})
    code = "import mylib, onlyfirst\n\ndef handler(event, context):\n    return [mylib.WHO, onlyfirst.X]\n"
    srv = serve(
        {"layered.py": code, "reversed_order.py": code},
        """
        [layers.first]
        path = "layers/first.zip"
        [layers.second]
        path = "layers/second.zip"
        [functions.layered]
        handler = "layered.handler"
        layers = ["first", "second"]
        [functions.reversed_order]
        handler = "reversed_order.handler"
        layers = ["second", "first"]
        """,
        root=root,
    )
    assert call(srv, "layered") == ["second", 1]
    assert call(srv, "reversed_order") == ["first", 1]


@pytest.mark.parametrize("layers", ['["a", "b", "c", "d", "e", "f"]', '["nope"]'])
def test_bad_layer_lists_are_config_errors(layers: str, serve: Callable[..., Server], tmp_path: Path) -> None:
    defined = "".join(f'[layers.{n}]\npath = "l"\n' for n in "abcdef")
    (tmp_path / "srv" / "l" / "python").mkdir(parents=True)
    srv = serve({"f.py": "def handler(e, c):\n    return 1\n"},
                  f'{defined}[functions.f]\nhandler = "f.handler"\nlayers = {layers}\n', root=tmp_path / "srv",
                  expect_fail=True)
    code = srv.proc.wait(30)
    assert code != 0
    assert "functions.f.layers" in srv.log(), srv.log()


def test_environment_build_logs_say_what_is_built(serve: Callable[..., Server], tmp_path: Path) -> None:
    house = wheelhouse(tmp_path)
    srv = serve({"lib/__init__.py": "", "lib/app.py": REPORT, "lib/requirements.txt": "otherpkg\n"},
                  offline(house) + '[functions.lib]\nhandler = "lib.app.handler"\n')
    srv.wait_environments()
    assert call(srv, "lib")["version"] == "1.0"  # otherpkg pulled pinpkg 1.0 in
    log = srv.log()
    assert "requirements.txt" in log and "environment" in log
    deadline = time.monotonic() + 5
    while "built" not in log and time.monotonic() < deadline:
        time.sleep(0.1)
        log = srv.log()
    assert json.dumps(functions_json(srv)["lib"]["state"]) == '"ready"'


def test_dependencies_vendored_into_a_package_folder_import_the_lambda_way(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    # `pip install -t functions/vend somepkg` puts somepkg/ beside the function's own modules
    srv = serve(
        {"vend/__init__.py": "", "vend/app.py": "import somepkg\n\ndef handler(event, context):\n    return somepkg.WHO\n",
         "vend/somepkg/__init__.py": "WHO = 'vendored'\n"},
        '[functions.vend]\nhandler = "vend.app.handler"\n',
    )
    assert call(srv, "vend") == "vendored"
