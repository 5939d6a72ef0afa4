"""Rolling-window concentration for the ``window_s`` rule.

Annex 1 counts are per m³, but a 28.3 L sample holding one ≥5.0 µm particle
already reads 35/m³. Judging the concentration over a window (total counts /
total sampled volume) makes one stray count weigh what it physically is.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any


class RollingWindow:
    """The readings of one channel within the longest window in force."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        # (ts_ns, value per m³, sampled volume in litres or None)
        self.entries: deque[tuple[int, float, float | None]] = deque()

    def to_state(self) -> list[list[Any]]:
        return [[ts, v, vol] for ts, v, vol in self.entries]

    def load_state(self, entries: Sequence[Sequence[Any]]) -> None:
        self.entries = deque(
            (int(ts), float(v), None if vol is None else float(vol)) for ts, v, vol in entries
        )

    def add(self, ts_ns: int, per_m3: float, volume_l: float | None, keep_ns: int) -> None:
        """Add a reading (newest last) and forget readings older than ``keep_ns``."""
        entries = self.entries
        entries.append((ts_ns, per_m3, volume_l))
        horizon = ts_ns - keep_ns
        while entries[0][0] <= horizon:
            entries.popleft()

    def concentration(self, now_ns: int, window_ns: int) -> float:
        """Counts over sampled volume of the readings in (now - window, now].

        Counts of a reading are per_m³ * volume_l / 1000. When any reading in
        the window lacks its volume, the plain mean of the values is returned.
        """
        horizon = now_ns - window_ns
        counts = 0.0
        volume_l = 0.0
        total = 0.0
        n = 0
        volume_known = True
        for ts_ns, per_m3, vol in reversed(self.entries):
            if ts_ns <= horizon:
                break
            n += 1
            total += per_m3
            if vol is None or vol <= 0:
                volume_known = False
            else:
                counts += per_m3 * vol / 1000.0
                volume_l += vol
        if n == 0:
            return 0.0
        if not volume_known:
            return total / n
        return counts / (volume_l / 1000.0)
