"""The limits in force per room and measured parameter, as ``limits`` points.

Grafana draws limit lines from them, so the service writes them every
``limits_write_interval_s``. With a campus configured that is about 10 000
points a minute; the text of each depends only on the facility and the room's
state, so it is built once and only the timestamp is added per snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from envmon.facility import Facility, Room
from envmon.gmp import LIMIT_KEYS, ResolvedLimits
from envmon.readings import PARAMETERS_BY_KIND, Kind, RoomState
from envmon.store.lineproto import limits_point

RoomStateOf = Callable[[str], RoomState]
LimitsOf = Callable[[str, str, RoomState], ResolvedLimits | None]


class LimitsPoints:
    """Points for one facility (a reload makes a new one)."""

    __slots__ = ("_cache", "_params_by_room", "facility")

    def __init__(self, facility: Facility) -> None:
        self.facility = facility
        kinds: dict[str, set[Kind]] = {}
        for sensor in facility.model.sensors:
            kinds.setdefault(sensor.room, set()).add(sensor.kind)
        self._params_by_room: dict[str, tuple[str, ...]] = {
            room: tuple(p for kind in sorted(ks) for p in PARAMETERS_BY_KIND[kind])
            for room, ks in kinds.items()
        }
        self._cache: dict[tuple[str, str, RoomState], str | None] = {}

    def lines(
        self, rooms: Sequence[Room], state_of: RoomStateOf, limits_of: LimitsOf, ts_ns: int
    ) -> Iterator[str]:
        """One line per measured parameter with limits of each room, at ``ts_ns``."""
        site = self.facility.site
        for room in rooms:
            state = state_of(room.id)
            for parameter in self._params_by_room.get(room.id, ()):
                key = (room.id, parameter, state)
                if key in self._cache:
                    point = self._cache[key]
                else:
                    limits = limits_of(room.id, parameter, state)
                    point = None
                    if limits is not None and limits.has_limits:
                        levels = {k: getattr(limits, k) for k in LIMIT_KEYS}
                        point = limits_point(site, room.id, parameter, state.value, levels)
                    self._cache[key] = point
                if point is not None:
                    yield f"{point} {ts_ns}"
