"""Background work owned by a component: a loop run when woken, and a set of tasks stopped together.

Every long-lived component (metering, usage counters, the async queue, the keyring, the reloader,
the worker pool, the scheduler's clock and bucket watches) has some work that runs beside the
requests. Two shapes cover all of it:

- ``WakeLoop``: run ``step`` each time the loop is woken (``wake()`` is a cheap call on the hot
  path), optionally after a batching ``window`` that lets more work gather, or every ``interval``
  seconds without a wake. A step that fails with one of ``errors`` is reported and run again after
  ``retry`` seconds, so a transient store error never ends the loop. ``stop()`` does not cancel: it
  lets the step in progress finish, then (with ``final=True``) runs the step a last time, so a
  clean shutdown flushes everything that was handed over before it.
- ``TaskSet``: tasks the owner starts and must not leave behind. A task's failure is logged when
  it ends (never "exception was never retrieved"); ``join`` waits for them, within a grace period
  if asked; ``cancel`` cancels them and waits until they have ended.

Why cancellation needs care: the usual ``task.cancel(); try: await task except CancelledError:
pass`` cannot tell the CancelledError we asked for from a cancellation aimed at the caller itself
(an ``asyncio.timeout`` around a shutdown, a task group tearing down after a failure): swallowing
that one leaves the caller running on as if nothing happened, past its deadline. It also passes the
caller's cancellation down to the task a second time, cutting its cleanup short. ``TaskSet.cancel``
waits with ``asyncio.wait``, which never raises a task's own outcome, so any CancelledError it sees
is the caller's: it lets the tasks finish ending, then raises it. (The other correct spelling,
which ``asyncio.TaskGroup`` uses, checks ``asyncio.current_task().cancelling()`` after ``await
task``.) ``WakeLoop.stop`` cancels nothing and catches nothing, so it has nothing to swallow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

Step = Callable[[], Awaitable[float | None]]


class WakeLoop:
    """Run ``step`` when woken (after ``window`` seconds of batching), or every ``interval`` seconds.

    ``step`` may return how long to wait for a wake before it runs again on its own; None means
    ``interval`` (None: only when woken). ``window`` and ``interval`` may be callables, read each
    time, so they follow the current state (a full batch needs no window) or a reloaded config.
    """

    def __init__(
        self,
        step: Step,
        *,
        name: str,
        interval: float | Callable[[], float] | None = None,
        window: float | Callable[[], float] = 0.0,
        errors: tuple[type[Exception], ...] = (),
        retry: float = 1.0,
        on_error: Callable[[Exception], None] | None = None,
        final: bool = False,
    ) -> None:
        self.name = name
        self._step = step
        self._interval = interval
        self._window = window
        self._errors = errors
        self._retry = retry
        self._on_error = on_error
        self._final = final
        self._wake = asyncio.Event()
        self._closed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def closing(self) -> bool:
        """True from the moment ``stop()`` is called."""
        return self._closed.is_set()

    def wake(self) -> None:
        """Ask for a run of the step (cheap: called once per request on hot paths)."""
        if not self._wake.is_set():
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Let the step in progress finish, end the loop, then run the step once more if ``final``.

        Nothing is cancelled here, so nothing is swallowed: if the caller is cancelled while it
        waits, the CancelledError reaches it (and the loop's task is cancelled with it).
        """
        self._closed.set()
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._final:
            await self._step()

    async def __aenter__(self) -> WakeLoop:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _run(self) -> None:
        timeout: float | None = None
        while not self.closing:
            if timeout is None:
                interval = self._interval
                timeout = interval() if callable(interval) else interval
            await self._wait(timeout)
            if self.closing:
                break  # stop() runs the last step
            window = self._window() if callable(self._window) else self._window
            if window > 0:
                await asyncio.sleep(window)
            self._wake.clear()
            try:
                timeout = await self._step()
            except self._errors as exc:
                self._report(exc)
                await self._pause(self._retry)
                self._wake.set()
                timeout = None

    async def _wait(self, timeout: float | None) -> None:
        """Until woken, or ``timeout`` seconds have passed (None: no limit)."""
        if timeout is None:
            await self._wake.wait()
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()

    async def _pause(self, seconds: float) -> None:
        """Sleep, but not past ``stop()``: the final step is the next try then."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._closed.wait()

    def _report(self, exc: Exception) -> None:
        if self._on_error is not None:
            self._on_error(exc)
        else:
            log.error("%s: %s; trying again in %g s", self.name, exc, self._retry)


class TaskSet:
    """Tasks an owner started; each failure is logged as ``"<what> failed"`` when the task ends.

    ``on_done`` is called after any task ends (the async queue looks for more work then).
    """

    def __init__(self, what: str, *, on_done: Callable[[], None] | None = None) -> None:
        self.what = what
        self._on_done = on_done
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self.add(task)
        return task

    def add(self, task: asyncio.Task[Any]) -> None:
        """Track a task someone else created (e.g. a job APScheduler started) until it ends."""
        if task not in self._tasks:
            self._tasks.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", self.what, exc_info=task.exception())
        if self._on_done is not None:
            self._on_done()

    async def join(self, timeout: float | None = None) -> int:
        """Wait until every task (including ones added meanwhile) has ended, or ``timeout`` seconds;
        return how many are still running."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._tasks:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                break
            await asyncio.wait(set(self._tasks), timeout=remaining)
        return len(self._tasks)

    async def cancel(self) -> None:
        """Cancel every task and wait until each has ended; their failures are logged by ``_done``.

        A cancellation aimed at the caller while it waits is raised once the tasks have ended, never
        swallowed (see the module docstring).
        """
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        aimed_at_us: asyncio.CancelledError | None = None
        while tasks:
            try:
                # wait() never raises a task's own outcome, so a CancelledError here is ours.
                await asyncio.wait(tasks)
                tasks = set()
            except asyncio.CancelledError as exc:
                aimed_at_us = exc
                tasks = {t for t in tasks if not t.done()}
        if aimed_at_us is not None:
            raise aimed_at_us

