"""The limits in force per room, parameter and room state, as a facility load records them.

Every facility load in the journal carries one snapshot, so that a report
can say which limits applied at any time from the journal rather than from
today's file. Compact: only rooms and parameters with a limit in some state;
per state only the limit keys set and the rules that differ from their
defaults. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Final

from envmon.facility import Facility
from envmon.gmp import LIMIT_KEYS, RULE_KEYS, ResolvedLimits, resolve_facility
from envmon.readings import RoomState

RULE_DEFAULTS: Final[Mapping[str, Any]] = {
    "delay_s": 0.0,
    "consecutive": 1,
    "n_of_m": None,
    "window_s": None,
    "deadband": 0.0,
}


@dataclass(frozen=True, slots=True)
class LimitSet:
    """The limits and rules of one room, parameter and room state (None: no such limit)."""

    alert_high: float | None = None
    action_high: float | None = None
    alert_low: float | None = None
    action_low: float | None = None
    delay_s: float = 0.0
    consecutive: int = 1
    n_of_m: tuple[int, int] | None = None
    window_s: float | None = None
    deadband: float = 0.0

    @classmethod
    def of(cls, resolved: ResolvedLimits) -> LimitSet:
        return cls(**{f.name: getattr(resolved, f.name) for f in fields(cls)})

    @property
    def has_limits(self) -> bool:
        return any(getattr(self, key) is not None for key in LIMIT_KEYS)

    def to_record(self) -> dict[str, Any]:
        """Limit keys that are set, rules that differ from their defaults."""
        out: dict[str, Any] = {
            k: getattr(self, k) for k in LIMIT_KEYS if getattr(self, k) is not None
        }
        for key in RULE_KEYS:
            value = getattr(self, key)
            if value != RULE_DEFAULTS[key]:
                out[key] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> LimitSet:
        values = dict(record)
        if values.get("n_of_m") is not None:
            values["n_of_m"] = tuple(values["n_of_m"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class RoomLimits:
    """One room's limits by parameter and state, and the state assumed until one is known."""

    default_state: str
    parameters: Mapping[str, Mapping[RoomState, LimitSet]]


@dataclass(frozen=True, slots=True)
class LimitsSnapshot:
    """The limits a facility load put in force, room by room and for each piece of
    equipment (its id is as unique as a room's)."""

    rooms: Mapping[str, RoomLimits]

    def limits(self, room: str, parameter: str, state: RoomState) -> LimitSet | None:
        """The limits of ``room``'s ``parameter`` in ``state``; None when it has none."""
        room_limits = self.rooms.get(room)
        if room_limits is None:
            return None
        return room_limits.parameters.get(parameter, {}).get(state)

    def to_record(self) -> dict[str, Any]:
        return {
            room: {
                "default_state": r.default_state,
                "limits": {
                    parameter: {state.value: s.to_record() for state, s in by_state.items()}
                    for parameter, by_state in r.parameters.items()
                },
            }
            for room, r in self.rooms.items()
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> LimitsSnapshot:
        return cls(
            {
                room: RoomLimits(
                    default_state=r["default_state"],
                    parameters={
                        parameter: {
                            RoomState(state): LimitSet.from_record(s)
                            for state, s in by_state.items()
                        }
                        for parameter, by_state in r["limits"].items()
                    },
                )
                for room, r in record.items()
            }
        )

    def flat(self) -> dict[str, Any]:
        """Dotted keys as ``config_diff.flatten_facility`` names resolved limits."""
        out: dict[str, Any] = {}
        for room, r in self.rooms.items():
            for parameter, by_state in r.parameters.items():
                for state, limit_set in by_state.items():
                    for key, value in limit_set.to_record().items():
                        out[f"resolved.{room}.{parameter}.{state.value}.{key}"] = value
        return out


def snapshot_of(facility: Facility) -> LimitsSnapshot:
    """The limits ``facility`` puts in force, for every room and every piece of
    equipment (keyed by its id, with its room's default state); raises
    ``ConfigError`` as ``resolve_facility`` does."""
    rooms, equipment = resolve_facility(facility)
    owners: dict[str, RoomLimits] = {}
    for owner, table, default_state in (
        *((r.id, rooms[r.id], r.default_state) for r in facility.model.rooms),
        *(
            (e.id, equipment[e.id], facility.rooms[e.room].default_state)
            for e in facility.model.equipment
        ),
    ):
        parameters: dict[str, dict[RoomState, LimitSet]] = {}
        for parameter, by_state in table.items():
            sets = {state: LimitSet.of(resolved) for state, resolved in by_state.items()}
            if any(limit_set.has_limits for limit_set in sets.values()):
                parameters[parameter] = {s: ls for s, ls in sets.items() if ls.has_limits}
        if parameters:
            owners[owner] = RoomLimits(default_state=str(default_state), parameters=parameters)
    return LimitsSnapshot(owners)
