"""A clock that tests step by hand (``envmon.runtime.clock.Clock``)."""

from __future__ import annotations

NS_PER_S = 1_000_000_000


class FakeClock:
    """Wall time and monotonic time that move only when ``advance`` is called."""

    def __init__(self, wall_ns: int = 1_795_082_400 * NS_PER_S, monotonic: float = 1000.0):
        self._wall_ns = wall_ns
        self._monotonic = monotonic

    def wall_ns(self) -> int:
        return self._wall_ns

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        self._wall_ns += round(seconds * NS_PER_S)
        self._monotonic += seconds
