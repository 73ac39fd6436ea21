"""``faas deps build [NAME...]``: build functions' dependency sets ahead of time.

It needs no server: it builds straight into ``data_dir/envs``, where the server looks, so a
deploy can build first and start (or reload) with every environment ready. A server building
the same set at the same moment is safe: whichever finishes first puts its folder in place and
the other keeps it (faas/builder.py). Functions with equal requirements share one set and one
line of output.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faas.builder import EnvironmentBuilder, requirements_path
from faas.cli._common import EXIT_FAILED, EXIT_USAGE, CliError, quiet_builder_log, shown
from faas.config import Config
from faas.environment import DependencySet, IndexSettings, read_requirements
from faas.exceptions import BuildFailed, RequirementsError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("deps", help="build functions' dependency sets ahead of time")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = actions.add_parser(
        "build", parents=[common], help="build the dependency sets of the named functions (default: all)"
    )
    build.add_argument("names", nargs="*", metavar="NAME", help="functions (default: every one with requirements)")
    build.add_argument("-v", "--verbose", action="store_true", help="show uv's output as it builds")
    p.set_defaults(run=lambda config, a: deps_build(config, a.names, verbose=a.verbose))


@dataclass(slots=True)
class _Set:
    deps: DependencySet
    functions: list[str]


def deps_build(config: Config, names: list[str], *, verbose: bool = False) -> int:
    """Build each named function's set (every function's if none is named); 1 if any failed."""
    quiet_builder_log(verbose)
    unknown = [n for n in names if n not in config.functions]
    if unknown:
        known = ", ".join(sorted(config.functions)) or "none are configured"
        raise CliError(f"no such function: {', '.join(unknown)} (known: {known})", EXIT_USAGE)
    index = IndexSettings.from_executor(config.executor)
    sets: dict[str, _Set] = {}
    failed = 0
    for name in names or sorted(config.functions):
        path = requirements_path(config, config.functions[name])
        if path is None:
            if names:
                print(f"{name}: no requirements, nothing to build")
            continue
        try:
            deps = read_requirements(path, index)
        except RequirementsError as exc:
            print(f"faas: {name}: {exc}", file=sys.stderr)
            failed += 1
            continue
        sets.setdefault(deps.key, _Set(deps, [])).functions.append(name)
    if not sets and not names and not failed:
        print("no function has requirements: nothing to build")
    failed += asyncio.run(_build_all(config.server.data_dir, index, list(sets.values())))
    return EXIT_FAILED if failed else 0


async def _build_all(data_dir: Path, index: IndexSettings, sets: list[_Set]) -> int:
    async with EnvironmentBuilder(data_dir) as builder:
        results = await asyncio.gather(*(_build_one(builder, index, s) for s in sets))
    return results.count(False)


async def _build_one(builder: EnvironmentBuilder, index: IndexSettings, s: _Set) -> bool:
    who = ", ".join(s.functions)
    where = f"environment {s.deps.key} from {shown(s.deps.source)}"
    if builder.is_built(s.deps):
        print(f"{who}: already built: {where}", flush=True)
        return True
    started = time.monotonic()
    try:
        await builder.build(s.deps, index)
    except BuildFailed as exc:
        print(f"faas: {who}: failed to build {where}: {exc}", file=sys.stderr, flush=True)
        return False
    print(f"{who}: built {where} in {time.monotonic() - started:.2f} s", flush=True)
    return True
