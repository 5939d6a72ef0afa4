"""Which operating state a room was in at a given event time."""

from __future__ import annotations

from bisect import bisect_right
from typing import Final

from envmon.readings import RoomState

_KEPT_CHANGES: Final = 256


class RoomStateHistory:
    """A room's recent state changes, so a reading is judged under the state of its
    own timestamp even when the change arrived after it."""

    __slots__ = ("_changes", "_times", "default")

    def __init__(self, default: RoomState) -> None:
        self.default = default
        self._times: list[int] = []
        self._changes: list[tuple[int, RoomState]] = []

    def record(self, ts_ns: int, state: RoomState) -> None:
        """A change at ``ts_ns``; a second change at the same instant replaces the first."""
        i = bisect_right(self._times, ts_ns)
        if i and self._times[i - 1] == ts_ns:
            self._changes[i - 1] = (ts_ns, state)
            return
        self._times.insert(i, ts_ns)
        self._changes.insert(i, (ts_ns, state))
        if len(self._times) > _KEPT_CHANGES:
            del self._times[0], self._changes[0]

    def at(self, ts_ns: int) -> RoomState:
        """The state in force at ``ts_ns`` (a change applies from its own timestamp on)."""
        times = self._times
        if not times:
            return self.default
        if ts_ns >= times[-1]:
            return self._changes[-1][1]
        i = bisect_right(times, ts_ns)
        return self._changes[i - 1][1] if i else self.default

    @property
    def current(self) -> RoomState:
        return self._changes[-1][1] if self._changes else self.default
