"""Time, handed to whatever needs it: logic never reads the system clock itself.

Two readings of the clock: wall time (UTC nanoseconds, what is recorded and
compared with sensors' timestamps) and monotonic seconds (what timeouts and
intervals are measured with). Tests hand in a clock they step.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def wall_ns(self) -> int:
        """Now, as UTC nanoseconds since the epoch."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; only differences mean anything."""
        ...


class SystemClock:
    """The machine's clocks."""

    __slots__ = ()

    def wall_ns(self) -> int:
        return time.time_ns()

    def monotonic(self) -> float:
        return time.monotonic()


SYSTEM_CLOCK = SystemClock()
