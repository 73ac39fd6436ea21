"""The runtime's ``Resolver``: a function's code, layers and dependency set, from its config and files.

Code packages and layers come from ``faas.packages`` (zips unpacked once, content-addressed, with
Lambda's limits); dependency sets are read here (``faas.environment``) and built by
``faas.builder``. Resolving reads files and unpacks zips but never builds: a missing dependency set
is only *requested*, and the registry keeps the version pending until the build ends.
"""

from __future__ import annotations

from pathlib import Path

from faas.builder import BuildState, EnvironmentBuilder, requirements_path
from faas.config import Config, FunctionConfig
from faas.environment import DependencySet, Environment, IndexSettings, read_requirements
from faas.exceptions import PackageError, RequirementsError
from faas.packages import check_total_size, code_paths, layer_paths
from faas.registry import EnvState, Provision

__all__ = ["PackageResolver", "dependency_set"]


def dependency_set(config: Config, fn: FunctionConfig) -> DependencySet | None:
    """The function's dependency set (None without requirements); PackageError names the function."""
    path = requirements_path(config, fn)
    if path is None:
        return None
    try:
        return read_requirements(path, IndexSettings.from_executor(config.executor))
    except RequirementsError as exc:
        raise RequirementsError(f'function "{fn.name}": {exc}') from None


class PackageResolver:
    """``build=False`` (the CLI reading a data folder) resolves and reports, but never asks for a build."""

    def __init__(self, builder: EnvironmentBuilder, packages_dir: Path, *, build: bool = True) -> None:
        self.builder = builder
        self.packages_dir = packages_dir
        self.build = build
        self._index: dict[str, IndexSettings] = {}  # dependency-set key -> where to build it from

    def prepare(self, config: Config) -> None:
        """Unpack every code and layer zip ``config`` names (blocking: run it in a thread), so that
        resolving on the event loop later finds them unpacked. Refusals are reported by ``resolve``."""
        for fn in config.functions.values():
            try:
                code_paths(config, fn, self.packages_dir)
                layer_paths(config, fn, self.packages_dir)
            except PackageError:
                pass

    def resolve(self, config: Config, fn: FunctionConfig) -> Provision:
        deps = dependency_set(config, fn)
        code = code_paths(config, fn, self.packages_dir)
        layers = layer_paths(config, fn, self.packages_dir)
        check_total_size(fn.name, code, layers, functions_dir=config.server.functions_dir)
        if deps is not None:
            self._index[deps.key] = IndexSettings.from_executor(config.executor)
        deps_dir = self.builder.deps_dir(deps) if deps is not None else None
        return Provision(environment=Environment.of(deps, deps_dir, layers), code_paths=code)

    def state(self, environment: Environment) -> tuple[EnvState, str | None]:
        deps = environment.deps
        if deps is None or self.builder.is_built(deps):
            return EnvState.READY, None
        if self.builder.state(deps.key) is BuildState.FAILED:
            return EnvState.FAILED, self.builder.error(deps.key)
        return EnvState.BUILDING, None

    def request(self, environment: Environment) -> None:
        deps = environment.deps
        if deps is None or not self.build:
            return
        index = self._index.get(deps.key)
        if index is None:  # resolved by another resolver: nothing says where to build it from
            raise PackageError(f"{deps.source}: dependency set {deps.key} was not resolved here")
        self.builder.request(deps, index)
