"""Named scenarios: scripted events for a facility, chosen by ``--scenario NAME``.

Scenarios pick their rooms from the facility (the first Grade A room, the
first room with a reference, ...) so they work on the example facility and on
synthetic ones alike. Times are seconds from the start of the run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from envmon.errors import ConfigError
from envmon.facility import Equipment, Facility, Room
from envmon.readings import Kind, RoomState
from envmon.simulate.events import (
    DoorOpening,
    Dropout,
    EquipmentDoorOpening,
    EquipmentDrift,
    Event,
    ParticleBurst,
    StateChange,
)
from envmon.simulate.fleet import FleetOptions, grade_of

# A Grade A burst: ≥5.0 µm at 300/m³ is about 8.5 counts per 28.3 L sample,
# so every sample is beyond the limit of 29/m³ (a consecutive rule is met at
# once); ≥0.5 µm at 6 000/m³ is beyond the 3 520 action limit too.
BURST_PER_M3_0_5UM = 6_000.0
BURST_PER_M3_5_0UM = 300.0
# Door dips: the short one stays under a typical 60 s delay, the long one does not.
SHORT_DOOR_S = 10.0
LONG_DOOR_S = 120.0
# An incubator door left open: its CO2 falls below 4.5 % within seconds and stays
# there for minutes after it is closed (recovery is slow).
INCUBATOR_DOOR_S = 45.0
# A -80 °C freezer whose door was left open warms at this rate (°C per minute).
FREEZER_WARMING_C_PER_MIN = 1.5


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    events: tuple[Event, ...] = ()
    options: FleetOptions = field(default_factory=FleetOptions)


def _critical_room(facility: Facility) -> Room:
    """The cleanest room: where an excursion matters most."""
    return min(facility.model.rooms, key=lambda r: grade_of(r))


def _cascade_room(facility: Facility) -> Room:
    """The cleanest room that has a reference room (and so a pressure cascade step)."""
    with_reference = [r for r in facility.model.rooms if r.reference is not None]
    return min(with_reference or facility.model.rooms, key=lambda r: grade_of(r))


def _sensor_of(facility: Facility, room: Room, kind: Kind) -> str:
    for sensor in facility.sensors_in(room.id):
        if sensor.kind is kind:
            return sensor.id
    for sensor in facility.model.sensors:
        if sensor.kind is kind:
            return sensor.id
    raise ConfigError(f"facility has no {kind} sensor for this scenario")


def _equipment(facility: Facility, *types: str) -> Equipment | None:
    """The first piece of equipment of one of these types, if the facility has one."""
    return next((e for e in facility.model.equipment if e.type.lower() in types), None)


def _equipment_events(
    facility: Facility, start_s: float, freezer_too: bool = True
) -> tuple[list[Event], list[str]]:
    """An incubator door left open at ``start_s`` and (``freezer_too``) a freezer warming
    30 s later, for the equipment the facility has; with a description of each."""
    events: list[Event] = []
    words = []
    incubator = _equipment(facility, "incubator")
    if incubator is not None:
        events.append(EquipmentDoorOpening(start_s, INCUBATOR_DOOR_S, incubator.id))
        words.append(f"{incubator.id} door open {INCUBATOR_DOOR_S:g} s from {start_s:g} s")
    freezer = _equipment(facility, "freezer", "ultra_low_freezer") if freezer_too else None
    if freezer is not None:
        events.append(
            EquipmentDrift(start_s + 30, math.inf, freezer.id, "temperature",
                           FREEZER_WARMING_C_PER_MIN)
        )  # fmt: skip
        words.append(
            f"{freezer.id} warming {FREEZER_WARMING_C_PER_MIN:g} °C/min from {start_s + 30:g} s"
        )
    return events, words


def _burst(room: Room, start_s: float, duration_s: float) -> ParticleBurst:
    return ParticleBurst(
        start_s=start_s,
        duration_s=duration_s,
        room=room.id,
        per_m3_0_5um=BURST_PER_M3_0_5UM,
        per_m3_5_0um=BURST_PER_M3_5_0UM,
    )


def normal(facility: Facility) -> Scenario:
    return Scenario(
        "normal",
        "a well-run facility: background levels, equipment doors opened now and then",
        options=FleetOptions(random_equipment_doors_per_h=2.0),
    )


def equipment(facility: Facility) -> Scenario:
    """An incubator door left open (CO2 excursion) and a freezer warming (rate alert first)."""
    events, words = _equipment_events(facility, 10.0)
    if not events:
        raise ConfigError("scenario equipment: the facility has no incubator or freezer")
    return Scenario("equipment", "; ".join(words), tuple(events))


def excursion(facility: Facility) -> Scenario:
    room = _critical_room(facility)
    return Scenario(
        "excursion",
        f"{room.id} in operation with a ≥5.0 µm burst from 10 s for 120 s",
        (StateChange(0.0, room.id, RoomState.IN_OPERATION), _burst(room, 10.0, 120.0)),
    )


def door(facility: Facility) -> Scenario:
    room = _cascade_room(facility)
    return Scenario(
        "door",
        f"{room.id} door open {SHORT_DOOR_S:g} s at 10 s (no alarm), "
        f"then {LONG_DOOR_S:g} s at 60 s (alarm)",
        (
            DoorOpening(start_s=10.0, duration_s=SHORT_DOOR_S, room=room.id),
            DoorOpening(start_s=60.0, duration_s=LONG_DOOR_S, room=room.id),
        ),
    )


def dropout(facility: Facility) -> Scenario:
    sensor = _sensor_of(facility, _critical_room(facility), Kind.PARTICLES)
    return Scenario(
        "dropout",
        f"{sensor} goes silent at 10 s and stays silent",
        (Dropout(start_s=10.0, duration_s=math.inf, sensor=sensor),),
    )


def demo(facility: Facility) -> Scenario:
    """At a 1-2 s interval: a harmless door dip, then a Grade A excursion within 60 s, and
    an incubator door left open from 5 s (its CO2 excursion needs the short delay the demo
    gives it: scripts/demo.sh)."""
    critical = _critical_room(facility)
    cascade = _cascade_room(facility)
    climate = _sensor_of(facility, facility.model.rooms[-1], Kind.CLIMATE)
    equipment_events, words = _equipment_events(facility, 5.0, freezer_too=False)
    return Scenario(
        "demo",
        f"short door dip in {cascade.id} at 5 s, ≥5.0 µm burst in {critical.id} "
        f"from 15 s for 45 s, {climate} silent from 40 s for 45 s"
        + "".join(f", {w}" for w in words),
        (
            StateChange(0.0, critical.id, RoomState.IN_OPERATION),
            DoorOpening(start_s=5.0, duration_s=8.0, room=cascade.id),
            _burst(critical, 15.0, 45.0),
            Dropout(start_s=40.0, duration_s=45.0, sensor=climate),
            *equipment_events,
        ),
        FleetOptions(random_bursts_per_h=2.0),
    )


def load(facility: Facility) -> Scenario:
    return Scenario("load", "background levels for throughput tests (use --rate, --rooms)")


SCENARIOS: dict[str, Callable[[Facility], Scenario]] = {
    "normal": normal,
    "excursion": excursion,
    "door": door,
    "dropout": dropout,
    "equipment": equipment,
    "demo": demo,
    "load": load,
}


def build_scenario(name: str, facility: Facility) -> Scenario:
    """The named scenario for this facility; ``ConfigError`` lists the known names."""
    try:
        make = SCENARIOS[name]
    except KeyError:
        raise ConfigError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})") from None
    return make(facility)
