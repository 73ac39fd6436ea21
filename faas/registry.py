"""The functions the server knows, each at its current code version.

A code version is a counter per function. It goes up when the function's config changes or when a
file it owns changes: ``functions/NAME.py`` or ``functions/NAME/**`` for a handler ``NAME....``.
A changed file no function owns (a shared helper module) moves every function on, since any of
them may import it. The executor keeps workers per (function, version), so a new version means
new workers on the next call while busy old ones finish theirs.

A version also has an execution environment (its dependency set and layers, ``faas.environment``),
resolved by a ``Resolver``. A version whose environment is not built yet waits as *pending* while the
version before it keeps *serving*; when its build ends it takes over (listeners hear the function
changed), so editing ``requirements.txt`` under load fails no call. A version that cannot be
resolved (a bad zip, a requirements file that does not parse) or whose build failed never serves;
its error is kept for ``status()`` and the older version serves on. With no serving version at all,
``get`` raises ``EnvironmentNotReady``.
"""

from __future__ import annotations

import enum
import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from faas.config import Config, FunctionConfig
from faas.environment import Environment
from faas.exceptions import EnvironmentNotReady, FunctionNotFound, PackageError
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Provision:
    """What a function version runs with, resolved from its config and files."""

    environment: Environment
    code_paths: tuple[str, ...]


class EnvState(enum.Enum):
    READY = "ready"
    BUILDING = "building"
    FAILED = "failed"


class Resolver(Protocol):
    """Resolves a function's code and environment, and says whether an environment is built."""

    def resolve(self, config: Config, fn: FunctionConfig) -> Provision:
        """Raises PackageError naming the function, the file and the problem."""

    def state(self, environment: Environment) -> tuple[EnvState, str | None]:
        """READY, BUILDING, or FAILED with the build's error."""

    def request(self, environment: Environment) -> None:
        """Start building ``environment`` in the background if it is not built or building."""

    def prepare(self, config: Config) -> None:
        """Do the blocking part of resolving ``config`` ahead (unpacking zips); run it in a thread."""


class SharedFolderResolver:
    """No packages and no dependency sets: every function imports from the functions folder, as
    before execution environments existed (tests of the registry alone use it)."""

    def resolve(self, config: Config, fn: FunctionConfig) -> Provision:
        return Provision(environment=BASE_ENVIRONMENT, code_paths=(str(config.server.functions_dir),))

    def state(self, environment: Environment) -> tuple[EnvState, str | None]:
        return EnvState.READY, None

    def request(self, environment: Environment) -> None:
        pass

    def prepare(self, config: Config) -> None:
        pass


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionStatus:
    """A function as ``faas status`` and the admin page show it."""

    name: str
    version: int | None  # the serving version (None: nothing serves yet)
    pending: int | None  # a newer version waiting for its environment
    environment: str | None  # the key of the newest version's environment
    requirements: str | None  # the requirements file of the newest version
    state: EnvState
    error: str | None  # why the newest version cannot serve (a refused package, a failed build)

    def as_json(self) -> dict[str, object]:
        """The admin API's shape (``faas status --json`` prints the same)."""
        return {
            "name": self.name, "version": self.version, "pendingVersion": self.pending,
            "environment": self.environment, "requirements": self.requirements, "state": self.state.value,
            "error": self.error,
        }


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
    """Current config and versions; tells listeners which functions changed what they serve."""

    def __init__(self, config: Config, resolver: Resolver | None = None) -> None:
        self.config = config
        self.resolver: Resolver = resolver or SharedFolderResolver()
        self._functions: dict[str, Function] = {}  # the serving version of each function
        self._pending: dict[str, Function] = {}  # a newer version whose environment is not ready
        self._errors: dict[str, str] = {}  # why the newest version of a function cannot serve
        self._listeners: list[Callable[[Config, set[str]], None]] = []
        self._next_version = 1
        # Extra variables per function supplied by the runtime (the internal key workers call back with).
        self._env_provider: Callable[[str], dict[str, str]] | None = None
        for fn in config.functions.values():
            self._offer(fn)

    def set_env_provider(self, provider: Callable[[str], dict[str, str]]) -> None:
        """Install ``provider(function_name) -> env`` and rebuild every function with it."""
        self._env_provider = provider
        for table in (self._functions, self._pending):
            for name, fn in list(table.items()):
                table[name] = self._make(fn.config, Provision(environment=fn.environment, code_paths=fn.code_paths))

    def set_resolver(self, resolver: Resolver) -> None:
        """Resolve every function anew with ``resolver`` (the runtime's, once packages and builds are
        available); the change is announced to listeners."""
        self.resolver = resolver
        self._functions.clear()
        self._pending.clear()
        self._errors.clear()
        for fn in self.config.functions.values():
            self._offer(fn)
        self._notify(set(self.config.functions))

    def _environment(self, fn: FunctionConfig, code_paths: tuple[str, ...], environment: Environment) -> dict[str, str]:
        env = worker_environment(self.config, fn, code_paths, environment)
        if self._env_provider is not None:
            env.update(self._env_provider(fn.name))
        return env

    def _make(self, fn: FunctionConfig, provision: Provision) -> Function:
        version = self._next_version
        self._next_version += 1
        return Function(
            config=fn,
            version=version,
            arn=arn(self.config, fn.name),
            env=self._environment(fn, provision.code_paths, provision.environment),
            environment=provision.environment,
            code_paths=provision.code_paths,
        )

    def _offer(self, fn: FunctionConfig) -> bool:
        """Make a new version of ``fn``: it serves at once if its environment is ready, else it
        waits as pending (and its build is asked for). True if what serves changed."""
        name = fn.name
        self._pending.pop(name, None)
        try:
            provision = self.resolver.resolve(self.config, fn)
        except PackageError as exc:
            self._errors[name] = str(exc)
            log.error("function %s: %s; %s", name, exc,
                      "the previous version serves on" if name in self._functions else "it cannot run")
            return False
        new = self._make(fn, provision)
        state, error = self.resolver.state(new.environment)
        if state is EnvState.READY:
            self._functions[name] = new
            self._errors.pop(name, None)
            return True
        self._pending[name] = new
        if state is EnvState.FAILED:
            self._errors[name] = error or "its environment failed to build"
        else:
            self._errors.pop(name, None)
            self.resolver.request(new.environment)
        return False

    def recheck_pending(self) -> set[str]:
        """A build ended: pending versions whose environment is ready serve now; those whose build
        failed keep its error. Returns and announces the functions that switched."""
        switched: set[str] = set()
        for name, fn in list(self._pending.items()):
            state, error = self.resolver.state(fn.environment)
            if state is EnvState.READY:
                del self._pending[name]
                self._functions[name] = fn
                self._errors.pop(name, None)
                switched.add(name)
                log.info("function %s: version %d serves now (its environment is built)", name, fn.version)
            elif state is EnvState.FAILED:
                self._errors[name] = error or "its environment failed to build"
                log.error("function %s: %s; %s", name, self._errors[name],
                          "the previous version serves on" if name in self._functions else "it cannot run")
        if switched:
            self._notify(switched)
        return switched

    def subscribe(self, listener: Callable[[Config, set[str]], None]) -> None:
        """``listener(config, changed_names)`` runs after every change (names removed included)."""
        self._listeners.append(listener)

    def get(self, name: str) -> Function:
        """The serving version of ``name``; EnvironmentNotReady if none can serve yet."""
        fn = self._functions.get(name)
        if fn is not None:
            return fn
        if name not in self.config.functions:
            raise FunctionNotFound(name)
        error = self._errors.get(name)
        if error is not None:
            raise EnvironmentNotReady(name, error, failed=True)
        pending = self._pending.get(name)
        source = pending.environment.deps.source if pending is not None and pending.environment.deps else None
        raise EnvironmentNotReady(name, "its environment is being built" + (f" from {source}" if source else ""))

    def config_of(self, name: str) -> FunctionConfig:
        """A configured function's settings, whether or not a version of it serves yet."""
        try:
            return self.config.functions[name]
        except KeyError:
            raise FunctionNotFound(name) from None

    def names(self) -> list[str]:
        """Every configured function, serving or not."""
        return sorted(self.config.functions)

    def __iter__(self) -> Iterator[Function]:
        """The serving versions."""
        return iter(list(self._functions.values()))

    def status(self) -> list[FunctionStatus]:
        out = []
        for name in self.names():
            serving, pending = self._functions.get(name), self._pending.get(name)
            newest = pending or serving
            error = self._errors.get(name)
            if error is not None:
                state = EnvState.FAILED
            elif pending is not None or serving is None:
                state = EnvState.BUILDING
            else:
                state = EnvState.READY
            deps = newest.environment.deps if newest is not None else None
            out.append(FunctionStatus(
                name=name, version=serving.version if serving else None, pending=pending.version if pending else None,
                environment=newest.environment.key if newest is not None else None,
                requirements=str(deps.source) if deps is not None else None, state=state, error=error,
            ))
        return out

    def apply_config(self, config: Config) -> set[str]:
        """Swap in a validated config; functions whose settings changed get a new version."""
        self.config = config
        changed: set[str] = set()
        for table in (self._functions, self._pending, self._errors):
            for name in list(table):
                if name not in config.functions:
                    del table[name]
                    changed.add(name)
        for fn in config.functions.values():
            old = self._pending.get(fn.name) or self._functions.get(fn.name)
            if old is None or old.config != fn or _base_env(old) != worker_environment(config, fn, old.code_paths, old.environment) or fn.name in self._errors:
                if self._offer(fn) or old is None:
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
            hit = {name for name, fn in self.config.functions.items() if fn.handler.split(".", 1)[0] == module}
            if hit:
                owners |= hit
            else:
                everything = True
        if everything:
            owners = set(self.config.functions)
        return self.touch(owners)

    def touch(self, names: Iterable[str]) -> set[str]:
        """Something these functions use changed (their files, a code zip or folder, a layer, a
        requirements file): new versions of them. Returns and announces those whose serving version
        changed (the others wait for their environment). Unknown names are ignored."""
        switched = {name for name in names if name in self.config.functions and self._offer(self.config.functions[name])}
        if switched:
            self._notify(switched)
        return switched

    def _notify(self, changed: set[str]) -> None:
        for listener in self._listeners:
            try:
                listener(self.config, changed)
            except Exception:
                log.exception("registry listener failed")


def arn(config: Config, name: str) -> str:
    """A function's unqualified ARN."""
    server = config.server
    return f"arn:aws:lambda:{server.region}:{server.account_id}:function:{name}"


def _base_env(fn: Function) -> dict[str, str]:
    """A function's environment without what the env provider added (it changes per start)."""
    return {k: v for k, v in fn.env.items() if k not in PROVIDED_ENV}


PROVIDED_ENV = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"})
