"""Platform metrics for Prometheus, in a ``CollectorRegistry`` of each Runtime's own.

The hot path stays cheap: the Invoker hands every metered row to :meth:`Metrics.observe`, which
bumps plain dict counters and one histogram bucket (no locks: everything runs on the event loop).
The Prometheus families are built only when ``/metrics`` is scraped, and gauges (workers, busy
calls, queue depths) are read from their owners at that moment through callbacks.

Features that land later plug in through the callbacks, without touching the hot path:
``async_events_queued`` (the async queue's depth) and ``schedule_runs`` (runs per schedule and
status) default to nothing.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from faas.records import Invocation, Status

if TYPE_CHECKING:
    from faas.executor.pool import WorkerPool
    from faas.invoke import Invoker
    from faas.metering import MeteringWriter

__all__ = ["CONTENT_TYPE", "DURATION_BUCKETS", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds. Lambda calls run from about a millisecond to 15 minutes.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
_THROTTLED = Status.THROTTLED
_TIMEOUT = Status.TIMEOUT


class _Histogram:
    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(DURATION_BUCKETS) + 1)  # the last one is +Inf
        self.total = 0.0


class Metrics(Collector):
    """Counters fed by the Invoker and the gateway; gauges read through callbacks at scrape time."""

    def __init__(self) -> None:
        self._calls: dict[tuple[str, str], int] = {}
        self._cold: dict[str, int] = {}
        self._durations: dict[str, _Histogram] = {}
        self._http: dict[tuple[str, int], int] = {}
        self.pool_stats: Callable[[], Mapping[str, Mapping[str, int]]] = dict
        self.worker_processes: Callable[[], int] = lambda: 0
        self.metering_pending: Callable[[], int] = lambda: 0
        self.async_events_queued: Callable[[], int] = lambda: 0
        self.schedule_runs: Callable[[], Mapping[tuple[str, str], int]] = dict
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def attach(self, *, invoker: Invoker, pool: WorkerPool, metering: MeteringWriter) -> None:
        """Count the Invoker's calls and read the pool's and the metering writer's gauges."""
        invoker.observers.append(self.observe)
        self.pool_stats = pool.stats
        self.worker_processes = lambda: pool.total_workers
        self.metering_pending = lambda: metering.pending

    # --- the hot path -----------------------------------------------------------------------

    def observe(self, row: Invocation) -> None:
        """One finished (or throttled) invocation, as metered."""
        key = (row.function, row.status)
        calls = self._calls
        calls[key] = calls.get(key, 0) + 1
        if row.status == _THROTTLED:
            return
        if row.cold:
            self._cold[row.function] = self._cold.get(row.function, 0) + 1
        hist = self._durations.get(row.function)
        if hist is None:
            hist = self._durations[row.function] = _Histogram()
        seconds = row.duration_ms / 1000.0
        hist.counts[bisect_left(DURATION_BUCKETS, seconds)] += 1
        hist.total += seconds

    def observe_http(self, route: str, status: int) -> None:
        key = (route, status)
        http = self._http
        http[key] = http.get(key, 0) + 1

    # --- scraping ---------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The Prometheus text format of everything in this registry."""
        return generate_latest(self.registry)

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        calls = sorted(self._calls.items())
        invocations = CounterMetricFamily(
            "faas_invocations", "Invocations by function and how they ended", labels=["function", "status"]
        )
        throttles = CounterMetricFamily("faas_throttles", "Invocations refused with 429 (not billed)", labels=["function"])
        timeouts = CounterMetricFamily("faas_timeouts", "Invocations killed at their timeout", labels=["function"])
        for (function, status), n in calls:
            invocations.add_metric([function, status], n)
            if status == _THROTTLED:
                throttles.add_metric([function], n)
            elif status == _TIMEOUT:
                timeouts.add_metric([function], n)
        yield invocations
        yield throttles
        yield timeouts

        cold = CounterMetricFamily("faas_cold_starts", "Invocations that started a new worker", labels=["function"])
        for function, n in sorted(self._cold.items()):
            cold.add_metric([function], n)
        yield cold

        duration = HistogramMetricFamily(
            "faas_invocation_duration_seconds", "Run time of invocations (init excluded), throttled ones excluded",
            labels=["function"],
        )
        for function, hist in sorted(self._durations.items()):
            running = 0
            buckets: list[tuple[str, float]] = []
            for bound, n in zip((*DURATION_BUCKETS, float("inf")), hist.counts):
                running += n
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), running))
            duration.add_metric([function], buckets, hist.total)
        yield duration

        busy = GaugeMetricFamily("faas_concurrent_executions", "Invocations running now", labels=["function"])
        warm = GaugeMetricFamily("faas_warm_workers", "Idle warm workers ready for a call", labels=["function"])
        for function, stats in sorted(self.pool_stats().items()):
            busy.add_metric([function], stats.get("busy", 0))
            warm.add_metric([function], stats.get("idle", 0))
        yield busy
        yield warm
        yield GaugeMetricFamily("faas_worker_processes", "Worker processes alive, all functions", value=self.worker_processes())
        yield GaugeMetricFamily(
            "faas_metering_pending_rows", "Metered calls not yet written to the store", value=self.metering_pending()
        )
        yield GaugeMetricFamily(
            "faas_async_events_queued", "Asynchronous invocations waiting in the queue", value=self.async_events_queued()
        )
        runs = CounterMetricFamily("faas_schedule_runs", "Scheduled runs by schedule and status", labels=["schedule", "status"])
        for (schedule, status), n in sorted(self.schedule_runs().items()):
            runs.add_metric([schedule, status], n)
        yield runs

        http = CounterMetricFamily("faas_http_requests", "HTTP requests by route and status", labels=["route", "status"])
        for (route, code), n in sorted(self._http.items()):
            http.add_metric([route, str(code)], n)
        yield http
