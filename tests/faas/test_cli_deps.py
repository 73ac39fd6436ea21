"""``faas deps build`` and ``faas layers build`` end to end: ``python -m faas ... --config`` in a
subprocess, against a project whose wheels are built here (``find_links`` + ``offline``). Neither
command needs a server, so none is started."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.wheels import build_wheel

FUNCTIONS = """
[functions.one]
handler = "one.app.handler"

[functions.twin]
handler = "twin.handler"
requirements = "reqs/twin.txt"

[functions.two]
handler = "two.handler"
requirements = "reqs/two.txt"

[functions.plain]
handler = "plain.handler"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """one (by convention) and twin share alpha==1.0; two pins alpha==2.0; plain has none."""
    root = tmp_path / "project"
    wheels = root / "wheels"
    for version in ("1.0", "2.0"):
        build_wheel(wheels, "alpha", version, {"alpha/__init__.py": f"VERSION = {version!r}\n"})
    build_wheel(wheels, "beta", "1.0", {"beta/__init__.py": "import alpha\n"}, ["alpha==1.0"])
    files = {
        "functions/one/__init__.py": "",
        "functions/one/app.py": "def handler(event, context):\n    return 1\n",
        "functions/one/requirements.txt": "alpha==1.0\n",
        "functions/twin.py": "def handler(event, context):\n    return 2\n",
        "functions/two.py": "def handler(event, context):\n    return 3\n",
        "functions/plain.py": "def handler(event, context):\n    return 4\n",
        "reqs/twin.txt": "# the same set as one's\nalpha==1.0\n",
        "reqs/two.txt": "alpha==2.0\n",
        "reqs/broken.txt": "alpha==3\n",
        "layer-reqs.txt": "beta\n",
        "layers/ready/python/ready.py": "X = 1\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    write_config(root, FUNCTIONS)
    return root


def write_config(root: Path, extra: str) -> None:
    (root / "config.toml").write_text(textwrap.dedent(f"""
        [server]
        data_dir = "data"
        functions_dir = "functions"

        [executor]
        find_links = ["wheels"]
        offline = true
        """) + textwrap.dedent(extra))


def faas(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UV_CACHE_DIR": str(root / "uv-cache")}
    return subprocess.run(
        [sys.executable, "-m", "faas", *args, "--config", str(root / "config.toml")],
        capture_output=True, text=True, cwd=root, env=env, timeout=120,
    )


def envs(root: Path) -> list[str]:
    folder = root / "data" / "envs"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- faas deps build ---------------------------------------------------------------------------


def test_deps_build_builds_every_set_once_then_finds_them_built(project: Path) -> None:
    result = faas(project, "deps", "build")
    assert result.returncode == 0, result.stderr
    lines = sorted(result.stdout.splitlines())  # printed as each build ends
    assert len(lines) == 2, result.stdout  # one line per set: one and twin share theirs
    assert lines[0].startswith("one, twin: built environment ") and " from functions/one/requirements.txt in " in lines[0]
    assert lines[1].startswith("two: built environment ") and "from reqs/two.txt" in lines[1]
    assert result.stderr == ""
    keys = envs(project)
    assert len(keys) == 2 and all((project / "data" / "envs" / k / ".complete").is_file() for k in keys)
    versions = {(project / "data" / "envs" / k / "site-packages" / "alpha" / "__init__.py").read_text() for k in keys}
    assert versions == {"VERSION = '1.0'\n", "VERSION = '2.0'\n"}

    again = faas(project, "deps", "build", "two", "twin")
    assert again.returncode == 0, again.stderr
    assert sorted(again.stdout.splitlines()) == sorted([
        f"twin: already built: environment {_key(lines[0])} from reqs/twin.txt",
        f"two: already built: environment {_key(lines[1])} from reqs/two.txt",
    ])
    assert envs(project) == keys


def _key(line: str) -> str:
    return line.split("environment ", 1)[1].split()[0]


def test_deps_build_of_a_function_without_requirements_builds_nothing(project: Path) -> None:
    result = faas(project, "deps", "build", "plain")
    assert (result.returncode, result.stdout) == (0, "plain: no requirements, nothing to build\n")
    assert envs(project) == []


def test_deps_build_of_an_unknown_function_exits_2(project: Path) -> None:
    result = faas(project, "deps", "build", "one", "nope")
    assert result.returncode == 2
    assert result.stderr == "faas: no such function: nope (known: one, plain, twin, two)\n"
    assert envs(project) == []


def test_deps_build_exits_1_with_the_resolvers_message_and_still_builds_the_rest(project: Path) -> None:
    (project / "reqs" / "bad.txt").write_text("humanize==99\n")
    write_config(project, FUNCTIONS + '[functions.bad]\nhandler = "plain.handler"\nrequirements = "reqs/bad.txt"\n')
    result = faas(project, "deps", "build")
    assert result.returncode == 1
    assert result.stderr.startswith("faas: bad: failed to build environment ")
    assert "from reqs/bad.txt: No solution found when resolving dependencies: Because humanize was not found" in result.stderr
    assert "you require humanize==99" in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr  # the message once, not again from the log
    assert "one, twin: built" in result.stdout and "two: built" in result.stdout
    assert len([k for k in envs(project) if not k.startswith(".")]) == 2


def test_deps_build_names_the_file_and_line_of_a_requirements_file_that_does_not_parse(project: Path) -> None:
    (project / "reqs" / "two.txt").write_text("alpha==2.0\n--index-url http://example.invalid\n")
    result = faas(project, "deps", "build", "two")
    assert result.returncode == 1
    assert f"faas: two: {project / 'reqs' / 'two.txt'}, line 2: '--index-url http://example.invalid'" in result.stderr


def test_deps_build_verbose_shows_uvs_output(project: Path) -> None:
    result = faas(project, "deps", "build", "two", "--verbose")
    assert result.returncode == 0, result.stderr
    assert "+ alpha==2.0" in result.stderr and "built environment" in result.stderr


# --- faas layers build -------------------------------------------------------------------------

LAYERS = """
[layers.shared]
path = "dist/shared.zip"
requirements = "layer-reqs.txt"
description = "beta and what it needs"

[layers.ready]
path = "layers/ready"

[layers.broken]
path = "dist/broken.zip"
requirements = "reqs/broken.txt"
"""


def test_layers_build_writes_a_lambda_layout_zip_and_the_same_bytes_again(project: Path) -> None:
    write_config(project, FUNCTIONS + LAYERS)
    result = faas(project, "layers", "build", "shared")
    assert result.returncode == 0, result.stderr
    zip_path = project / "dist" / "shared.zip"
    size = zip_path.stat().st_size
    assert result.stdout.startswith(f"layer shared: wrote dist/shared.zip ({size / 1024:.1f} KB, ")
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
        assert zf.read("python/alpha/__init__.py") == b"VERSION = '1.0'\n"
    assert {"python/beta/__init__.py", "python/alpha/__init__.py", "python/beta-1.0.dist-info/METADATA"} <= names
    assert not [n for n in names if not n.startswith("python/") or "__pycache__" in n or n.endswith(".txt")]
    assert sorted(p.name for p in (project / "dist").iterdir()) == ["shared.zip"]  # no temp file left
    assert envs(project) == []  # a layer is not a function's environment

    first = zip_path.read_bytes()
    assert faas(project, "layers", "build", "shared").returncode == 0
    assert zip_path.read_bytes() == first


def test_layers_build_refuses_an_unknown_layer_and_one_without_requirements(project: Path) -> None:
    write_config(project, FUNCTIONS + LAYERS)
    unknown = faas(project, "layers", "build", "nope")
    assert unknown.returncode == 2
    assert unknown.stderr == "faas: no such layer: nope (known: broken, ready, shared)\n"
    bare = faas(project, "layers", "build", "ready")
    assert bare.returncode == 2
    assert bare.stderr == 'faas: layer ready: no requirements to build from; set [layers.ready] requirements = "requirements.txt"\n'


def test_layers_build_exits_1_with_the_resolvers_message_and_writes_nothing(project: Path) -> None:
    write_config(project, FUNCTIONS + LAYERS)
    result = faas(project, "layers", "build", "broken")
    assert result.returncode == 1
    assert result.stderr.startswith("faas: layer broken: failed to build from reqs/broken.txt: No solution found")
    assert "there is no version of alpha==3" in result.stderr
    assert not (project / "dist").exists()


def test_layers_build_refuses_a_zip_over_lambdas_limit(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In process, with the limit lowered: 50 MB of wheels would be a slow test."""
    import faas.cli.layers
    from faas.cli import main

    write_config(project, FUNCTIONS + LAYERS)
    monkeypatch.setenv("UV_CACHE_DIR", str(project / "uv-cache"))
    monkeypatch.chdir(project)
    monkeypatch.setattr(faas.cli.layers, "quiet_builder_log", lambda verbose: None)  # leave logging to pytest
    monkeypatch.setattr(faas.cli.layers, "MAX_ZIP_BYTES", 1000)
    assert main(["layers", "build", "shared", "--config", str(project / "config.toml")]) == 1
    assert "faas: layer shared: the zip would be " in capsys.readouterr().err
    assert list((project / "dist").iterdir()) == []
    monkeypatch.setattr(faas.cli.layers, "MAX_UNZIPPED_BYTES", 1000)
    assert main(["layers", "build", "shared", "--config", str(project / "config.toml")]) == 1
    assert "KB unzipped, over Lambda's limit of 1.0 KB" in capsys.readouterr().err
    assert list((project / "dist").iterdir()) == []


def test_layers_build_writes_only_zips(project: Path) -> None:
    write_config(project, FUNCTIONS + '[layers.folder]\npath = "layers/out"\nrequirements = "layer-reqs.txt"\n')
    result = faas(project, "layers", "build", "folder")
    assert result.returncode == 2
    assert result.stderr == f"faas: layer folder: path {project / 'layers' / 'out'} is not a .zip file; faas layers build writes a zip\n"
