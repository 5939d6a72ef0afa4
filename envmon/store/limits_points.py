"""The limits in force per room (and equipment) and measured parameter, as ``limits`` points.

Grafana draws limit lines from them, so the service writes them every
``limits_write_interval_s``. With a campus configured that is about 10 000
points a minute; the text of each depends only on the facility and the room's
state, so it is built once and only the timestamp is added per snapshot.
Equipment in a room is written with the room, tagged with its id, under the
room's state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from envmon.facility import Facility, Room, parameters_of
from envmon.gmp import LIMIT_KEYS, ResolvedLimits, limits_in_force, resolve_equipment_limits
from envmon.readings import RoomState, StateInForce
from envmon.store.lineproto import limits_point

RoomStateOf = Callable[[str], StateInForce]
LimitsOf = Callable[[str, str, StateInForce], ResolvedLimits | None]
"""(room or equipment id, parameter, state) → the limits in force."""


class LimitsPoints:
    """Points for one facility (a reload makes a new one)."""

    __slots__ = ("_cache", "_equipment_params", "_params_by_room", "facility")

    def __init__(self, facility: Facility) -> None:
        self.facility = facility
        self._params_by_room: dict[str, tuple[str, ...]] = {}
        for room in facility.model.rooms:
            measured = {p for s in facility.sensors_in(room.id) for p in parameters_of(s)}
            self._params_by_room[room.id] = tuple(p for p in facility.parameters if p in measured)
        self._equipment_params: dict[str, tuple[str, ...]] = {}
        for item in facility.model.equipment:
            measured = {p for s in facility.sensors_on(item.id) for p in parameters_of(s)}
            self._equipment_params[item.id] = tuple(p for p in facility.parameters if p in measured)
        self._cache: dict[tuple[str, str, str, StateInForce], str | None] = {}

    def lines(
        self,
        rooms: Sequence[Room],
        state_of: RoomStateOf,
        limits_of: LimitsOf,
        ts_ns: int,
        equipment_limits_of: LimitsOf | None = None,
    ) -> Iterator[str]:
        """One line per measured parameter with limits of each room and of its equipment,
        at ``ts_ns``. Equipment limits are resolved from the facility unless given."""
        site = self.facility.site
        equipment_of = equipment_limits_of or self._resolve_equipment
        for room in rooms:
            state = state_of(room.id)
            for parameter in self._params_by_room.get(room.id, ()):
                point = self._point("", room.id, parameter, state, limits_of, site)
                if point is not None:
                    yield f"{point} {ts_ns}"
            for item in self.facility.equipment_in(room.id):
                for parameter in self._equipment_params.get(item.id, ()):
                    point = self._point(item.id, room.id, parameter, state, equipment_of, site)
                    if point is not None:
                        yield f"{point} {ts_ns}"

    def _point(
        self,
        equipment: str,
        room: str,
        parameter: str,
        state: StateInForce,
        limits_of: LimitsOf,
        site: str,
    ) -> str | None:
        key = (equipment, room, parameter, state)
        if key in self._cache:
            return self._cache[key]
        limits = limits_of(equipment or room, parameter, state)
        point = None
        if limits is not None and any(getattr(limits, k) is not None for k in LIMIT_KEYS):
            levels = {k: getattr(limits, k) for k in LIMIT_KEYS}
            point = limits_point(site, room, parameter, state.value, levels, equipment or None)
        self._cache[key] = point
        return point

    def _resolve_equipment(
        self, equipment: str, parameter: str, state: StateInForce
    ) -> ResolvedLimits | None:
        item = self.facility.equipment.get(equipment)
        if item is None:
            return None
        by_state = {s: resolve_equipment_limits(item, parameter, s) for s in RoomState}
        return limits_in_force(by_state).get(state)
