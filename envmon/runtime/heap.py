"""Keep the garbage collector's pauses short while readings flow.

CPython's full collection walks every container object the process holds. With
a campus configured that is the alarm engine's hundreds of thousands of
channel objects: each full pass stops every thread long after those objects
have stopped changing, and shows up as the worst alarm latencies (the figures,
with and without freezing, are in bench/README.md). What lives as long as the
service (imports, facility, primed engine) is therefore moved out of the
collector's view once it is built (``gc.freeze``); the collector keeps
watching everything newer. Frozen objects are still freed by reference
counting; only a reference cycle among them would be kept, which is why a
reload unfreezes and collects first.
"""

from __future__ import annotations

import gc
import time
from typing import Final

# Young collections every 700 allocations (CPython's default) cost measurable
# CPU at 1 000 readings/s; most per-reading objects die before 10 000.
YOUNG_THRESHOLD: Final = 10_000


def freeze_long_lived() -> tuple[int, float]:
    """Collect, then freeze everything alive; (objects frozen, seconds taken)."""
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    return gc.get_freeze_count(), time.perf_counter() - started
