"""Lambda's pricing model as pure functions. Money is ``Decimal``; nothing here does I/O."""

from __future__ import annotations

import math


def billed_ms(duration_ms: float, init_ms: float | None, *, granularity_ms: int = 1, bill_init: bool = True) -> int:
    """Billed duration: run time (plus the init phase, billed since Aug 2025) rounded up to the granularity."""
    total = duration_ms + ((init_ms or 0.0) if bill_init else 0.0)
    if total <= 0:
        return 0
    return math.ceil(round(total / granularity_ms, 6)) * granularity_ms
