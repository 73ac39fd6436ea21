"""Row 8: building a function's environment, a 5-package set with a warm uv cache.

    python -m bench.env_build [--rounds 5]

The set is ``requests`` and the four packages it needs, pinned. A wheelhouse is fetched once with
``pip download`` (the only step that needs the network; without it, five generated wheels of
similar size stand in, and the row says so). Then the real ``EnvironmentBuilder`` builds the set
once to warm a throwaway uv cache, and each sample builds it anew into a fresh ``data_dir``, from
that cache, offline, as a server would after an edit: uv resolves, copies, compiles the bytecode,
and the folder is renamed into place. The baseline installs the same wheels the same way with pip
(``pip install --target``, which compiles bytecode too), from the local wheelhouse.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import Row, median, text_table, times, verdict
from bench.wheels import build_wheel, uv_cache
from faas.builder import EnvironmentBuilder
from faas.environment import DependencySet, IndexSettings, read_requirements

SET = ("requests==2.32.3", "urllib3==2.2.3", "idna==3.10", "certifi==2024.8.30", "charset-normalizer==3.4.0")
TARGET_S = 2.0


def run(*, rounds: int) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="faas-bench-env-") as tmp_name:
        tmp = Path(tmp_name)
        requirements = tmp / "requirements.txt"
        wheelhouse, real = _wheelhouse(tmp / "wheels", requirements)
        index = IndexSettings(find_links=(str(wheelhouse),), offline=True)
        deps = read_requirements(requirements, index)
        faas_s: list[float] = []
        pip_s: list[float] = []
        with uv_cache(tmp / "uv-cache"):
            asyncio.run(_build(tmp / "warm-up", deps, index))
            for i in range(rounds):
                faas_s.append(asyncio.run(_build(tmp / f"data-{i}", deps, index)))
                pip_s.append(_pip(tmp / f"pip-{i}", wheelhouse, requirements))
    faas_p50, pip_p50 = median(faas_s), median(pip_s)
    what = "requests and its 4 dependencies" if real else "5 generated wheels (no network for the real set)"
    print(f"  environment build: {faas_p50:.2f} s p50 (uv, warm cache); pip --target {pip_p50:.2f} s", flush=True)
    return [
        Row(
            section="8",
            measure=f"Environment build, 5 packages ({what}), warm uv cache, p50 (n={rounds})",
            faas=f"{faas_p50:.2f} s (max {max(faas_s):.2f} s)",
            baseline=f"{pip_p50:.2f} s pip install --target",
            ratio=f"{times(pip_p50 / faas_p50)} faster",
            target=f"< {TARGET_S:g} s",
            verdict=verdict(faas_p50 < TARGET_S),
            data={"faas_s": faas_s, "pip_s": pip_s, "set": list(SET), "real_packages": real},
        ),
    ]


async def _build(data_dir: Path, deps: DependencySet, index: IndexSettings) -> float:
    async with EnvironmentBuilder(data_dir) as builder:
        start = time.perf_counter()
        await builder.build(deps, index)
        return time.perf_counter() - start


def _pip(target: Path, wheelhouse: Path, requirements: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-index",
         "--find-links", str(wheelhouse), "--target", str(target), "-r", str(requirements)],
        check=True, env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
    )
    return time.perf_counter() - start


def _wheelhouse(folder: Path, requirements: Path) -> tuple[Path, bool]:
    """The real set's wheels (True), or five generated ones of about the same size (False)."""
    requirements.write_text("".join(f"{r}\n" for r in SET))
    fetched = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--only-binary", ":all:",
         "--dest", str(folder), "-r", str(requirements)],
        capture_output=True, text=True, timeout=300,
    )
    if fetched.returncode == 0:
        return folder, True
    print(f"  pip download failed, using generated wheels: {fetched.stderr.strip()[-300:]}", flush=True)
    names = ["pkg_a", "pkg_b", "pkg_c", "pkg_d", "pkg_e"]
    for n, name in enumerate(names):
        # ~40 modules of ~6 KB each, ~250 KB a package: the real set unpacks to about 1.5 MB.
        files = {f"{name}/mod{i}.py": f"VALUE_{i} = {i}\n" + "# padding\n" * 600 for i in range(40)}
        files[f"{name}/__init__.py"] = ""
        build_wheel(folder, name, "1.0", files, names[n + 1:n + 2])
    requirements.write_text("".join(f"{name}==1.0\n" for name in names))
    return folder, False


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.env_build", description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="builds to time (default 5)")
    args = p.parse_args(argv)
    print(text_table(run(rounds=args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
