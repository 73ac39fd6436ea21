"""The functions the server knows, each at its current code version.

A code version is a counter per function. It goes up when the function's config changes or when a
file it owns changes: ``functions/NAME.py`` or ``functions/NAME/**`` for a handler ``NAME....``.
A changed file no function owns (a shared helper module) moves every function on, since any of
them may import it. The executor keeps workers per (function, version), so a new version means
new workers on the next call while busy old ones finish theirs.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from faas.config import Config, FunctionConfig
from faas.environment import Environment
from faas.exceptions import FunctionNotFound
from faas.executor.runtime_libs import runtime_libs

log = logging.getLogger(__name__)

IGNORED_SUFFIXES = (".pyc", ".pyo", ".swp", ".swx", "~", ".tmp")
# No requirements, no layers: the standard library and the runtime's boto3 only.
BASE_ENVIRONMENT = Environment.of(None, None, ())


@dataclass(frozen=True, slots=True, kw_only=True)
class Function:
    """One function at one code version, with what its workers need precomputed."""

    config: FunctionConfig
    version: int
    arn: str
    env: dict[str, str] = field(hash=False)
    # What its zygote imports from (dependency set, layers); functions with equal ones share a zygote.
    environment: Environment = BASE_ENVIRONMENT
    # Its code: sys.path entries a worker puts first; the first is LAMBDA_TASK_ROOT and the cwd.
    code_paths: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def module_root(self) -> str:
        return self.config.handler.split(".", 1)[0]


def worker_environment(
    config: Config, fn: FunctionConfig, code_paths: tuple[str, ...] | None = None,
    environment: Environment = BASE_ENVIRONMENT,
) -> dict[str, str]:
    """The environment of a worker: the function's own variables plus Lambda's, nothing of ours.
    ``python3`` on its PATH is the runtime's (the base interpreter, without the platform's
    packages), and PYTHONPATH holds what the handler's ``sys.path`` holds (code, environment,
    runtime), so a subprocess sees what the handler sees."""
    region = config.server.region
    runtime = runtime_libs(config.server.data_dir)
    code = code_paths if code_paths is not None else (str(config.server.functions_dir),)
    env = dict(fn.environment)
    env.update(
        {
            "PATH": f"{runtime.bin_dir}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
            "AWS_LAMBDA_FUNCTION_NAME": fn.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.name}",
            "_HANDLER": fn.handler,
            "LAMBDA_TASK_ROOT": code[0] if code else "",
            "PYTHONPATH": ":".join((*code, *environment.paths, str(runtime.site_packages))),
            # Where the buckets live: a file a function writes to FAAS_BUCKETS_DIR/NAME/KEY is announced.
            "FAAS_BUCKETS_DIR": str(config.server.data_dir / "buckets"),
        }
    )
    return env


class Registry:
    """Current config and code versions; tells listeners which functions changed."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._functions: dict[str, Function] = {}
        self._listeners: list[Callable[[Config, set[str]], None]] = []
        self._next_version = 1
        # Extra variables per function supplied by the runtime (the internal key workers call back with).
        self._env_provider: Callable[[str], dict[str, str]] | None = None
        for fn in config.functions.values():
            self._functions[fn.name] = self._make(fn)

    def set_env_provider(self, provider: Callable[[str], dict[str, str]]) -> None:
        """Install ``provider(function_name) -> env`` and rebuild every function with it."""
        self._env_provider = provider
        for name in list(self._functions):
            self._functions[name] = self._make(self._functions[name].config)

    def _environment(self, fn: FunctionConfig, code_paths: tuple[str, ...], environment: Environment) -> dict[str, str]:
        env = worker_environment(self.config, fn, code_paths, environment)
        if self._env_provider is not None:
            env.update(self._env_provider(fn.name))
        return env

    def _make(self, fn: FunctionConfig) -> Function:
        version = self._next_version
        self._next_version += 1
        server = self.config.server
        code_paths = (str(server.functions_dir),)
        return Function(
            config=fn,
            version=version,
            arn=f"arn:aws:lambda:{server.region}:{server.account_id}:function:{fn.name}",
            env=self._environment(fn, code_paths, BASE_ENVIRONMENT),
            code_paths=code_paths,
        )

    def subscribe(self, listener: Callable[[Config, set[str]], None]) -> None:
        """``listener(config, changed_names)`` runs after every change (names removed included)."""
        self._listeners.append(listener)

    def get(self, name: str) -> Function:
        try:
            return self._functions[name]
        except KeyError:
            raise FunctionNotFound(name) from None

    def names(self) -> list[str]:
        return sorted(self._functions)

    def __iter__(self) -> Iterator[Function]:
        return iter(list(self._functions.values()))

    def apply_config(self, config: Config) -> set[str]:
        """Swap in a validated config; functions whose settings changed get a new version."""
        self.config = config
        changed: set[str] = set()
        for name in list(self._functions):
            if name not in config.functions:
                del self._functions[name]
                changed.add(name)
        for fn in config.functions.values():
            old = self._functions.get(fn.name)
            if old is None or old.config != fn or _base_env(old) != worker_environment(
                config, fn, old.code_paths, old.environment
            ):
                self._functions[fn.name] = self._make(fn)
                changed.add(fn.name)
        self._notify(changed)
        return changed

    def code_changed(self, paths: Iterable[Path]) -> set[str]:
        """Files under functions_dir changed: bump the functions that own them (all for shared files)."""
        root = self.config.server.functions_dir
        owners: set[str] = set()
        everything = False
        for path in paths:
            if path.name.endswith(IGNORED_SUFFIXES) or "__pycache__" in path.parts:
                continue
            try:
                top = path.relative_to(root).parts[0]
            except (ValueError, IndexError):
                continue
            module = top[:-3] if top.endswith(".py") else top
            hit = {f.name for f in self._functions.values() if f.module_root == module}
            if hit:
                owners |= hit
            else:
                everything = True
        if everything:
            owners = set(self._functions)
        for name in owners:
            self._functions[name] = self._make(self._functions[name].config)
        if owners:
            self._notify(owners)
        return owners

    def _notify(self, changed: set[str]) -> None:
        for listener in self._listeners:
            try:
                listener(self.config, changed)
            except Exception:
                log.exception("registry listener failed")


def _base_env(fn: Function) -> dict[str, str]:
    """A function's environment without what the env provider added (it changes per start)."""
    return {k: v for k, v in fn.env.items() if k not in PROVIDED_ENV}


PROVIDED_ENV = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"})
