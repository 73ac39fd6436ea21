"""Plain-text tables for the CLI."""

from __future__ import annotations

from collections.abc import Sequence


def print_table(rows: Sequence[Sequence[object]]) -> None:
    """Print rows (the first is the header) in left-aligned columns two spaces apart."""
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())
