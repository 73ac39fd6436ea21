"""Small inline SVG charts, drawn on the server: no script, no external files.

``calls_chart`` draws the last 24 hours as bars (calls per hour) with a line over them (mean run
time per hour). Colours are presentation attributes, which the pages' CSP allows.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

from faas.store import HourStats

__all__ = ["HOURS", "calls_chart", "sparkline"]

HOURS = 24
BAR = "#4f7cac"
LINE = "#d9822b"
GRID = "#d8dde3"
TEXT = "#5c6670"


def _slots(hours: Sequence[HourStats], now: float) -> tuple[int, list[HourStats | None]]:
    last = int(now // 3600)
    first = last - HOURS + 1
    by_hour = {h.hour: h for h in hours}
    return first, [by_hour.get(first + i) for i in range(HOURS)]


def calls_chart(hours: Sequence[HourStats], *, now: float | None = None, width: int = 720, height: int = 200) -> Markup:
    """Calls per hour (bars, left scale) and mean run time (line, right scale) over the last 24 hours."""
    now = time.time() if now is None else now
    first, slots = _slots(hours, now)
    left, right, top, bottom = 48, 64, 24, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    max_calls = max((s.calls for s in slots if s), default=0)
    max_ms = max((s.avg_ms for s in slots if s), default=0.0)
    step = plot_w / HOURS
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="Calls per hour and mean duration over the last 24 hours">'
    ]
    for frac in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - frac)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="{GRID}" stroke-width="1"/>')
        parts.append(_text(left - 6, y + 4, f"{round(max_calls * frac):,}", "end"))
        parts.append(_text(left + plot_w + 6, y + 4, _short_ms(max_ms * frac), "start"))
    points: list[str] = []
    for i, slot in enumerate(slots):
        x = left + i * step
        hour_label = time.strftime("%H:00", time.gmtime((first + i) * 3600))
        if slot is not None and max_calls:
            h = max(1.0, plot_h * slot.calls / max_calls)
            tip = f"{hour_label} UTC: {slot.calls:,} calls, {slot.errors:,} failed, mean {_short_ms(slot.avg_ms)}"
            parts.append(
                f'<rect x="{x + 2:.1f}" y="{top + plot_h - h:.1f}" width="{step - 4:.1f}" height="{h:.1f}" '
                f'fill="{BAR}"><title>{escape(tip)}</title></rect>'
            )
            if max_ms:
                points.append(f"{x + step / 2:.1f},{top + plot_h * (1 - slot.avg_ms / max_ms):.1f}")
        if i % 6 == 0 or i == HOURS - 1:
            parts.append(_text(x + step / 2, height - 8, hour_label, "middle"))
    if len(points) > 1:
        parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{LINE}" stroke-width="2"/>')
    for point in points:
        cx, cy = point.split(",")
        parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{LINE}"/>')
    if not max_calls:
        parts.append(_text(left + plot_w / 2, top + plot_h / 2, "No calls in the last 24 hours", "middle"))
    parts.append(_text(4, 11, "calls", "start"))
    parts.append(_text(width - 4, 11, "mean run time", "end"))
    parts.append("</svg>")
    return Markup("".join(parts))


def sparkline(hours: Sequence[HourStats], *, now: float | None = None, width: int = 96, height: int = 24) -> Markup:
    """A tiny bar chart of calls per hour over the last 24 hours, for tables."""
    now = time.time() if now is None else now
    _, slots = _slots(hours, now)
    peak = max((s.calls for s in slots if s), default=0)
    step = width / HOURS
    total = sum(s.calls for s in slots if s)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="spark" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{total:,} calls in the last 24 hours">'
        f'<line x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}" stroke="{GRID}" stroke-width="1"/>'
    ]
    for i, slot in enumerate(slots):
        if slot is not None and peak:
            h = max(1.0, (height - 2) * slot.calls / peak)
            parts.append(f'<rect x="{i * step + 0.5:.1f}" y="{height - 1 - h:.1f}" width="{step - 1:.1f}" '
                         f'height="{h:.1f}" fill="{BAR}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _text(x: float, y: float, text: str, anchor: str) -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="11" fill="{TEXT}" text-anchor="{anchor}" '
            f'font-family="sans-serif">{escape(text)}</text>')


def _short_ms(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:.1f} s"
    if value >= 10:
        return f"{value:.0f} ms"
    if value >= 1 or value == 0:
        return f"{value:.1f} ms"
    return f"{value:.2f} ms"
