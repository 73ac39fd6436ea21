"""Batched metering: the hot path appends a record; a background task writes batches to the store.

A call costs a list append. The writer commits every ``window`` seconds or ``max_batch`` rows,
whichever comes first; a crash loses at most one window, and a clean shutdown flushes everything.
A failed write keeps its rows and tries again, so nothing is dropped for a transient error.
"""

from __future__ import annotations

import logging

from faas.background import WakeLoop
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
        self._writer = WakeLoop(
            self.flush, name="metering", window=self._window, errors=(StoreError,), retry=1.0,
            on_error=self._write_failed, final=True,
        )
        self.written = 0

    def record(self, row: Invocation, entry: LogEntry | None) -> None:
        self._rows.append(row)
        self._logs.append(entry)
        self._writer.wake()

    @property
    def pending(self) -> int:
        return len(self._rows)

    async def __aenter__(self) -> "MeteringWriter":
        self._writer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._writer.stop()  # its last step flushes every row

    def _window(self) -> float:
        """A full batch is written at once; otherwise wait for more rows to share the transaction."""
        return 0.0 if len(self._rows) >= self.max_batch else self.window

    def _write_failed(self, exc: Exception) -> None:
        log.error("%s; %d rows kept for the next try", exc, len(self._rows))

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
