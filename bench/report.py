"""Table rows, the table itself (plain text for the terminal, Markdown for docs), and the machine."""

from __future__ import annotations

import enum
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


class Verdict(str, enum.Enum):
    OK = "ok"
    MISS = "MISS"
    INFO = "info"  # no target: the figure is context
    PENDING = "pending"  # the thing to measure is not built yet


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One line of the table. ``faas`` and ``baseline`` are absolute figures, ``ratio`` compares them."""

    section: str
    measure: str
    faas: str
    baseline: str = "-"
    ratio: str = "-"
    target: str = "-"
    verdict: Verdict = Verdict.INFO
    data: dict[str, Any] = field(default_factory=dict)


COLUMNS = ("#", "measure", "faas", "baseline", "ratio", "target", "verdict")


def _cells(row: Row) -> tuple[str, ...]:
    return (row.section, row.measure, row.faas, row.baseline, row.ratio, row.target, row.verdict.value)


def text_table(rows: Sequence[Row]) -> str:
    cells = [COLUMNS, *(_cells(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    lines = []
    for n, c in enumerate(cells):
        lines.append("  ".join(v.ljust(w) for v, w in zip(c, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: Sequence[Row]) -> str:
    def esc(v: str) -> str:
        return v.replace("|", "\\|")

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(esc(v) for v in _cells(r)) + " |")
    return "\n".join(lines)


# --- formatting helpers --------------------------------------------------------------------------


def rps(value: float) -> str:
    return f"{value:,.0f} req/s"


def ms(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f} ms"


def times(value: float) -> str:
    return f"{value:.2f}x" if value < 10 else f"{value:.0f}x"


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile: with few samples p99 is simply the worst one, never interpolated away."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def verdict(ok: bool) -> Verdict:
    return Verdict.OK if ok else Verdict.MISS


# --- the machine ---------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    ram = "unknown"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                    break
    except OSError:
        pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": ram,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
    }


class CpuShare:
    """How busy the machine was with other people's work while the suite ran (from /proc/stat).

    Busy time of all CPUs minus the CPU time of this process and its (reaped) descendants, as an
    average number of cores. Approximate, but it tells a quiet run from one that shared the machine.
    """

    def __init__(self) -> None:
        self._start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float]:
        with open("/proc/stat") as f:
            parts = f.readline().split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(p) for p in parts[:8])
        hz = os.sysconf("SC_CLK_TCK")
        busy = (user + nice + system + irq + softirq + steal) / hz
        t = os.times()
        ours = t.user + t.system + t.children_user + t.children_system
        return busy, ours, t.elapsed

    def others_cores(self) -> float:
        busy0, ours0, wall0 = self._start
        busy1, ours1, wall1 = self._sample()
        wall = max(wall1 - wall0, 1e-9)
        return max(0.0, ((busy1 - busy0) - (ours1 - ours0)) / wall)
