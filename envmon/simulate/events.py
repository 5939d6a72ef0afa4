"""Scripted disturbances of a simulated fleet, timed in seconds from the scenario start."""

from __future__ import annotations

from dataclasses import dataclass

from envmon.readings import RoomState


@dataclass(frozen=True, slots=True)
class _Span:
    start_s: float
    duration_s: float

    def covers(self, offset_s: float) -> bool:
        """Whether the span holds at ``offset_s`` (start inclusive, end exclusive)."""
        return self.start_s <= offset_s < self.start_s + self.duration_s


@dataclass(frozen=True, slots=True)
class ParticleBurst(_Span):
    """Extra particles (counts/m³, on top of background) in a room for a while."""

    room: str = ""
    per_m3_0_5um: float = 0.0
    per_m3_5_0um: float = 0.0


@dataclass(frozen=True, slots=True)
class DoorOpening(_Span):
    """A door to the reference room held open: the room's diff pressure nearly vanishes."""

    room: str = ""


@dataclass(frozen=True, slots=True)
class Dropout(_Span):
    """A sensor publishes nothing for a while (``duration_s`` may be ``math.inf``)."""

    sensor: str = ""


@dataclass(frozen=True, slots=True)
class TemperatureDrift(_Span):
    """An HVAC fault: the room's temperature is off by ``delta_c`` for a while."""

    room: str = ""
    delta_c: float = 0.0


@dataclass(frozen=True, slots=True)
class EquipmentDoorOpening(_Span):
    """An equipment door open for a while (an incubator's CO2 falls, a freezer warms)."""

    equipment: str = ""


@dataclass(frozen=True, slots=True)
class EquipmentDrift(_Span):
    """One equipment parameter changing steadily while it lasts (a door left open, a
    failing gas supply); the change stays once it ends."""

    equipment: str = ""
    parameter: str = ""
    rate_per_min: float = 0.0


@dataclass(frozen=True, slots=True)
class StateChange:
    """A room changes operating state at ``at_s`` (published retained)."""

    at_s: float
    room: str
    state: RoomState


Event = (
    ParticleBurst
    | DoorOpening
    | Dropout
    | TemperatureDrift
    | EquipmentDoorOpening
    | EquipmentDrift
    | StateChange
)
