"""Batched metering: the hot path appends a record; a background task writes batches to the store.

A call costs a list append. The writer commits every ``window`` seconds or ``max_batch`` rows,
whichever comes first; a crash loses at most one window, and a clean shutdown flushes everything.
A failed write keeps its rows and tries again, so nothing is dropped for a transient error.
"""

from __future__ import annotations

import asyncio
import logging

from faas.exceptions import StoreError
from faas.records import Invocation, LogEntry
from faas.store import SQLiteStore

log = logging.getLogger(__name__)


class MeteringWriter:
    def __init__(self, store: SQLiteStore, *, window: float = 0.05, max_batch: int = 2000) -> None:
        self.store = store
        self.window = window
        self.max_batch = max_batch
        # Rows and their logs side by side, so a batch takes its logs without searching for them.
        self._rows: list[Invocation] = []
        self._logs: list[LogEntry | None] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.written = 0

    def record(self, row: Invocation, entry: LogEntry | None) -> None:
        self._rows.append(row)
        self._logs.append(entry)
        if not self._wake.is_set():
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._rows)

    async def __aenter__(self) -> "MeteringWriter":
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        await self.flush()

    async def _run(self) -> None:
        while not self._closing:
            await self._wake.wait()
            if not self._closing and len(self._rows) < self.max_batch:
                await asyncio.sleep(self.window)
            self._wake.clear()
            try:
                await self.flush()
            except StoreError as exc:
                log.error("%s; %d rows kept for the next try", exc, len(self._rows))
                await asyncio.sleep(1.0)
                self._wake.set()

    async def flush(self) -> None:
        while self._rows:
            n = self.max_batch
            rows, self._rows = self._rows[:n], self._rows[n:]
            entries, self._logs = self._logs[:n], self._logs[n:]
            try:
                await self.store.write_invocations(rows, [e for e in entries if e is not None])
            except StoreError:
                self._rows[:0] = rows
                self._logs[:0] = entries
                raise
            self.written += len(rows)
