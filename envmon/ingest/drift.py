"""Sensor clock drift: warn when a sensor's timestamps stray from the receive time.

Pure: the readings carry both times (``ts_ns`` from the sensor, ``received_ns``
from envmon); no clock of its own. A sensor's clock offset cannot be told
from delivery delay by one reading: a reading buffered for ten minutes looks
ten minutes "behind". But delay only ever adds lag, so over a window of
readings the largest ``ts - received`` is the offset plus the smallest delay
seen: a backlog being drained (small delay at its end) does not warn, a
clock that is really off does, whichever way. One warning per sensor per
``warn_every_s`` at most.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import orjson

from envmon.readings import NS_PER_S, Reading, isoformat_ns

WARNINGS_LEVEL: Final = "warnings"


@dataclass(frozen=True, slots=True)
class DriftWarning:
    """A sensor whose clock is off by ``offset_s`` (positive: ahead of envmon's)."""

    site: str
    room: str
    sensor: str
    offset_s: float
    window_s: float
    limit_s: float
    at_ns: int

    @property
    def detail(self) -> str:
        way = "ahead of" if self.offset_s > 0 else "behind"
        return (
            f"sensor {self.sensor} (room {self.room}) clock is {abs(self.offset_s):.1f} s "
            f"{way} the receive time over the last {self.window_s:g} s "
            f"(clock_drift_warn_s {self.limit_s:g}): check the sensor's time sync"
        )

    def payload(self) -> bytes:
        """JSON for ``<prefix>/<site>/envmon/warnings``."""
        return orjson.dumps(
            {
                "warning": "clock_drift",
                "site": self.site,
                "room": self.room,
                "sensor": self.sensor,
                "offset_s": round(self.offset_s, 3),
                "limit_s": self.limit_s,
                "at": isoformat_ns(self.at_ns),
                "detail": self.detail,
            }
        )


def warnings_topic(prefix: str, site: str) -> str:
    return f"{prefix}/{site}/envmon/{WARNINGS_LEVEL}"


@dataclass(slots=True)
class _SensorWindow:
    start_ns: int
    max_offset_ns: int
    last_warned_ns: int | None = None


class ClockDriftMonitor:
    """Per-sensor drift over receive-time windows; ``warn_s`` of 0 turns it off.

    Not thread-safe: call ``observe`` from one thread (paho's network thread).
    """

    __slots__ = ("_sensors", "_warn_every_ns", "_warn_ns", "_warn_s", "_window_ns", "_window_s")

    def __init__(self, warn_s: float, window_s: float, warn_every_s: float) -> None:
        self._warn_s = warn_s
        self._warn_ns = int(warn_s * NS_PER_S)
        self._window_s = window_s
        self._window_ns = int(window_s * NS_PER_S)
        self._warn_every_ns = int(warn_every_s * NS_PER_S)
        self._sensors: dict[tuple[str, str], _SensorWindow] = {}

    def observe(self, reading: Reading) -> DriftWarning | None:
        """Account one reading; a warning when the window it closes was off by too much."""
        if self._warn_ns <= 0 or reading.received_ns <= 0:
            return None
        now = reading.received_ns
        offset = reading.ts_ns - now
        key = (reading.room, reading.sensor)
        window = self._sensors.get(key)
        if window is None:
            self._sensors[key] = _SensorWindow(start_ns=now, max_offset_ns=offset)
            return None
        if now - window.start_ns < self._window_ns:
            if offset > window.max_offset_ns:
                window.max_offset_ns = offset
            return None
        closed = window.max_offset_ns
        window.start_ns, window.max_offset_ns = now, offset
        if abs(closed) <= self._warn_ns:
            return None
        if window.last_warned_ns is not None and now - window.last_warned_ns < self._warn_every_ns:
            return None
        window.last_warned_ns = now
        return DriftWarning(
            site=reading.site,
            room=reading.room,
            sensor=reading.sensor,
            offset_s=closed / NS_PER_S,
            window_s=self._window_s,
            limit_s=self._warn_s,
            at_ns=now,
        )
