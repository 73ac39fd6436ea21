"""Dependency sets built with uv, each into its own content-addressed folder, never on the request path.

A function's ``requirements.txt`` (a ``DependencySet``, faas/environment.py) is installed into::

    data_dir/envs/KEY/site-packages/     what uv installed (``--target``): on the zygote's sys.path
    data_dir/envs/KEY/.complete          written last: the requirements, uv's output, the build time
    data_dir/envs/.build-KEY-PID-XXXX/   a build in progress, renamed to KEY when it is complete

Why it is built this way:

- Content-addressed: equal sets have equal keys, so functions that need the same packages share one
  folder and one build, and a changed set is a new folder while the old one keeps serving.
- Atomic: uv installs into a temporary folder beside the target (same filesystem), the marker is
  written, then one ``rename`` puts the whole folder in place. A crash, a SIGKILL or a cancelled
  build never leaves a half environment under KEY; a folder without ``.complete`` never counts.
  Temporary folders of processes that died are swept when a builder starts. Two builders racing
  on one key (the server and ``faas deps build``) are safe too: the first rename wins, the second
  finds KEY in place and drops its own copy.
- uv rather than pip: it resolves and installs a small set from its warm cache in a fraction of a
  second (hard links from the cache), so a new requirement costs seconds, not minutes.
- ``--target`` with the server's own interpreter: uv picks wheels for that Python and ABI and
  installs only into the target. The platform's environment is never written, and nothing
  installed in it counts as present for the function's set (it gets its own copies).
- ``--no-config``: no ``uv.toml`` or ``pyproject.toml`` of the working folder or the user changes
  what is built; where packages come from is ``[executor]``'s index settings only, which are part
  of the key. uv runs in the requirements file's folder, so a relative ``name @ ./x.whl`` means
  there what it means to pip.
- At most two builds at once: uv parallelises downloads and unpacking itself, and the server keeps
  its other core for requests.
- uv runs in its own process group, killed as a whole when a build is cancelled, so no uv process
  (or a build backend it started) outlives the builder.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import errno
import json
import logging
import os
import re
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from faas.background import TaskSet
from faas.config import Config, FunctionConfig
from faas.environment import PYTHON_VERSION, DependencySet, IndexSettings
from faas.exceptions import BuildFailed

__all__ = ["BuildState", "EnvironmentBuilder", "install", "requirements_path", "uv_bin"]

log = logging.getLogger(__name__)

MAX_BUILDS = 2
MARKER = ".complete"
_TMP_PREFIX = ".build-"
_KEPT_LINES = 400  # uv's output kept per build (the end, where the error is)


class BuildState(enum.Enum):
    MISSING = "missing"  # never built here (or the last build was cancelled)
    BUILDING = "building"  # a build is queued or running
    READY = "ready"  # complete on disk
    FAILED = "failed"  # the last build failed; ``error(key)`` says why


def requirements_path(config: Config, fn: FunctionConfig) -> Path | None:
    """The requirements file of ``fn``: its ``requirements`` key, else by convention
    ``functions_dir/ROOT/requirements.txt`` when the handler's module root ROOT is a package folder
    there (``thumbnail.app.handler`` -> ``functions/thumbnail/requirements.txt``); None if neither.

    A function with its own ``code`` (a folder or a zip in Lambda's layout) vendors its packages
    there or names a requirements file explicitly; the convention is for the functions folder.
    """
    if fn.requirements is not None:
        return fn.requirements
    if fn.code is not None:
        return None
    root = config.server.functions_dir / fn.handler.split(".", 1)[0]
    candidate = root / "requirements.txt"
    return candidate if root.is_dir() and candidate.is_file() else None


def uv_bin() -> str:
    """The uv binary of the ``uv`` package, a dependency of the platform."""
    from uv import find_uv_bin

    return str(find_uv_bin())


async def install(
    deps: DependencySet,
    index: IndexSettings,
    target: Path,
    *,
    uv: str | None = None,
    label: str | None = None,
    compile_bytecode: bool = True,
) -> list[str]:
    """Install ``deps`` into ``target`` with uv; returns uv's output lines, each also logged.

    Files are copied out of uv's cache, not hard-linked: a function that writes into its own
    environment must not change the cache every later build copies from. ``compile_bytecode``
    writes the ``.pyc`` files at build time, since a worker cannot write them into an environment
    it sees read-only and would compile every imported module on each cold start (a layer zip
    skips them: it is meant to be portable).

    Raises ``BuildFailed`` with uv's own message (see ``resolver_message``). If cancelled, uv's
    process group is killed and waited for before the CancelledError goes on, so nothing writes
    into ``target`` afterwards; what uv wrote there is the caller's to remove.
    """
    label = label or f"{deps.key} for {deps.source}"
    requirements = target.parent / f"{target.name}.requirements.txt"
    try:
        target.mkdir(parents=True, exist_ok=True)
        if not deps.lines:
            return []  # uv would only warn that the file lists nothing
        requirements.write_text(deps.text, "utf-8")
    except OSError as exc:
        raise BuildFailed(f"cannot write {exc.filename}: {exc.strerror}") from exc
    try:
        binary = uv or uv_bin()
        args = [
            binary, "pip", "install", "--target", str(target), "--python", sys.executable, "--no-config",
            "--no-progress", "--color", "never", "--link-mode", "copy", "-r", str(requirements), *index.uv_args(),
        ]
        if compile_bytecode:
            args.append("--compile-bytecode")
        try:
            proc = await asyncio.create_subprocess_exec(
                *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT, cwd=deps.source.parent, start_new_session=True,
                limit=1 << 20,
            )
        except OSError as exc:
            raise BuildFailed(f"cannot run uv ({binary}): {exc}") from exc
        lines: collections.deque[str] = collections.deque(maxlen=_KEPT_LINES)
        try:
            assert proc.stdout is not None
            async for raw in proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    lines.append(line)
                    log.info("building environment %s: %s", label, line)
            code = await proc.wait()
        finally:
            if proc.returncode is None:  # cancelled (or failed) while uv runs: stop all of it
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await asyncio.shield(proc.wait())
        if code != 0:
            raise BuildFailed(resolver_message(list(lines)) or f"uv exited with status {code}")
        return list(lines)
    finally:
        requirements.unlink(missing_ok=True)


def resolver_message(lines: list[str]) -> str:
    """uv's error, trimmed of progress noise and joined into one line.

    uv prints ``error: WHAT`` then ``  cause: WHY`` lines (each a deeper reason), long sentences
    wrapped onto indented lines, and ``hint: ...``. The message is WHAT: WHY: ... with the hint
    after it, e.g. "No solution found when resolving dependencies: Because humanize was not found
    in the cache and you require humanize==99, we can conclude that your requirements are
    unsatisfiable. (hint: ...)". Empty if uv printed no ``error:`` line.
    """
    start = next((i for i, line in enumerate(lines) if line.startswith("error:")), None)
    if start is None:
        return ""
    parts: list[str] = []
    hints: list[str] = []
    for line in lines[start:]:
        text = line.strip()
        if line.startswith("error:"):
            parts.append(text.removeprefix("error:").strip())
        elif text.startswith("cause:"):
            parts.append(text.removeprefix("cause:").strip())
        elif text.startswith("hint:"):
            hints.append(text.removeprefix("hint:").strip())
        elif hints:
            hints[-1] += " " + text
        elif parts:
            parts[-1] += " " + text
    message = re.sub(r"\s+", " ", ": ".join(parts))
    if hints:
        message += " (hint: " + " ".join(hints) + ")"
    return message


class EnvironmentBuilder:
    """Builds dependency sets under ``data_dir/envs``, at most ``MAX_BUILDS`` at a time.

    ``build`` builds now and waits; ``request`` starts a build in the background. Either way one key
    has at most one build at a time, shared by everyone who asks. ``subscribe`` tells the registry
    when a build ends, so it can switch a function to its new version. Use as an async context
    manager: leaving it cancels the builds in progress, kills their uv processes and removes their
    temporary folders.
    """

    def __init__(self, data_dir: Path, *, uv: str | None = None) -> None:
        self.root = data_dir / "envs"
        self._uv = uv
        self._tasks = TaskSet("environment build")
        self._running: dict[str, asyncio.Task[str | None]] = {}
        self._errors: dict[str, str] = {}
        self._ready: set[str] = set()
        self._subscribers: list[Callable[[str, BuildState], None]] = []
        self._slots: asyncio.Semaphore | None = None
        self._closed = False

    async def __aenter__(self) -> EnvironmentBuilder:
        self._slots = asyncio.Semaphore(MAX_BUILDS)
        await asyncio.to_thread(self._sweep)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closed = True
        await self._tasks.cancel()

    # --- what is there ---------------------------------------------------------------------------

    def deps_dir(self, deps: DependencySet) -> Path:
        """Where the set's packages are (or will be): ``data_dir/envs/KEY/site-packages``."""
        return self.root / deps.key / "site-packages"

    def is_built(self, deps: DependencySet) -> bool:
        """True once the set is complete on disk (its marker is written last, after every file)."""
        return self._complete(deps.key)

    def state(self, key: str) -> BuildState:
        if key in self._running:
            return BuildState.BUILDING
        if self._complete(key):
            return BuildState.READY
        if key in self._errors:
            return BuildState.FAILED
        return BuildState.MISSING

    def error(self, key: str) -> str | None:
        """The resolver's message of the last failed build of ``key`` (None once a build succeeds)."""
        return self._errors.get(key)

    def subscribe(self, callback: Callable[[str, BuildState], None]) -> None:
        """``callback(key, state)`` runs on the event loop when a build ends, READY or FAILED."""
        self._subscribers.append(callback)

    def _complete(self, key: str) -> bool:
        if key in self._ready:
            return True
        if (self.root / key / MARKER).is_file():
            self._ready.add(key)
            return True
        return False

    # --- building --------------------------------------------------------------------------------

    async def build(self, deps: DependencySet, index: IndexSettings) -> Path:
        """Build ``deps`` now, or wait for the build of the same key already running; returns
        ``deps_dir(deps)``. Raises ``BuildFailed`` with the resolver's message.

        A caller cancelled while it waits does not cancel the build: others may be waiting on it.
        """
        if self.is_built(deps):
            return self.deps_dir(deps)
        task = self._start(deps, index)
        try:
            error = await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and current is not None and not current.cancelling():
                raise BuildFailed(f"the build of environment {deps.key} was cancelled (the server is stopping)") from None
            raise
        if error is not None:
            raise BuildFailed(error)
        return self.deps_dir(deps)

    def request(self, deps: DependencySet, index: IndexSettings) -> None:
        """Start building ``deps`` in the background unless it is built or building.

        A set whose last build failed is built again (the network may be back, the package
        published): call this on start and on reload, not on every call of a function.
        """
        if not self._closed and not self.is_built(deps):
            self._start(deps, index)

    def _start(self, deps: DependencySet, index: IndexSettings) -> asyncio.Task[str | None]:
        if self._closed or self._slots is None:
            raise RuntimeError("EnvironmentBuilder is not running (use it in `async with`)")
        task = self._running.get(deps.key)
        if task is None:
            task = self._tasks.spawn(self._run(deps, index, self._slots))
            self._running[deps.key] = task
        return task

    async def _run(self, deps: DependencySet, index: IndexSettings, slots: asyncio.Semaphore) -> str | None:
        """One build from start to end: None when READY, else the error (also kept in ``error``)."""
        key = deps.key
        state = BuildState.FAILED
        try:
            async with slots:
                log.info("building environment %s for %s: %s", key, deps.source, " ".join(deps.lines) or "(nothing)")
                started = time.monotonic()
                await self._build(deps, index)
                elapsed = time.monotonic() - started
            log.info("built environment %s for %s in %.2f s", key, deps.source, elapsed)
            self._errors.pop(key, None)
            state = BuildState.READY
            return None
        except BuildFailed as exc:
            self._errors[key] = str(exc)
            log.error("environment %s for %s failed to build: %s", key, deps.source, exc)
            return str(exc)
        except Exception as exc:  # an outer boundary: a bug must still end as a failed build
            self._errors[key] = f"{type(exc).__name__}: {exc}"
            log.exception("environment %s for %s failed to build", key, deps.source)
            return self._errors[key]
        except asyncio.CancelledError:
            state = BuildState.MISSING
            log.info("build of environment %s for %s cancelled", key, deps.source)
            raise
        finally:
            del self._running[key]
            if state is not BuildState.MISSING:
                self._notify(key, state)

    async def _build(self, deps: DependencySet, index: IndexSettings) -> None:
        tmp = self.root / f"{_TMP_PREFIX}{deps.key}-{os.getpid()}-{secrets.token_hex(4)}"
        placed = False
        try:
            try:
                tmp.mkdir(parents=True)
            except OSError as exc:
                raise BuildFailed(f"cannot create {tmp}: {exc.strerror}") from exc
            started = time.monotonic()
            output = await install(deps, index, tmp / "site-packages", uv=self._uv, label=f"{deps.key} for {deps.source}")
            marker = {
                "key": deps.key, "source": str(deps.source), "requirements": list(deps.lines),
                "python": PYTHON_VERSION, "index": [_redacted(a) for a in index.uv_args()],
                "seconds": round(time.monotonic() - started, 3), "uv_output": output,
            }
            try:
                (tmp / MARKER).write_text(json.dumps(marker, indent=1) + "\n", "utf-8")
                placed = _place(tmp, self.root / deps.key)
            except OSError as exc:
                raise BuildFailed(f"cannot write environment {deps.key} under {self.root}: {exc.strerror}") from exc
            if not placed:
                log.info("environment %s was built meanwhile by another process; keeping that one", deps.key)
            self._ready.add(deps.key)
        finally:
            if not placed:
                # Shielded: a second cancellation must not leave the half-built folder behind.
                await asyncio.shield(asyncio.to_thread(shutil.rmtree, tmp, True))

    def _notify(self, key: str, state: BuildState) -> None:
        for callback in list(self._subscribers):
            try:
                callback(key, state)
            except Exception:  # one broken listener must not keep news from the others
                log.exception("environment build listener failed for %s", key)

    def _sweep(self) -> None:
        """Remove the temporary folders of builds whose process is gone (killed mid-build)."""
        try:
            entries = list(self.root.iterdir())
        except FileNotFoundError:
            self.root.mkdir(parents=True, exist_ok=True)
            return
        for entry in entries:
            match = re.fullmatch(re.escape(_TMP_PREFIX) + r"[^-]+-(\d+)-[0-9a-f]+", entry.name)
            if match and not _alive(int(match.group(1))):
                log.info("removing %s, left by a build that did not finish", entry)
                shutil.rmtree(entry, ignore_errors=True)


def _place(tmp: Path, target: Path) -> bool:
    """Rename ``tmp`` to ``target``; False if a complete ``target`` is already there (it wins)."""
    for _ in range(2):
        try:
            os.rename(tmp, target)
            return True
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        if (target / MARKER).is_file():
            return False
        # An incomplete folder under the final name (not made by this module): it never counted.
        shutil.rmtree(target, ignore_errors=True)
    os.rename(tmp, target)
    return True


def _redacted(arg: str) -> str:
    """An index URL without its credentials (``https://user:token@host/simple``): the marker is no
    place for a secret."""
    return re.sub(r"(://)[^/@]+@", r"\1***@", arg)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
