"""Simulated equipment: what a piece of equipment's parameters read at a time. Pure.

Each model is a function of the scenario offset (seconds), the equipment's
scripted events and a seeded random generator, in closed form (no state),
so that any tick can be asked for in any order:

- incubator: CO2 held at 5.0 %, 37.0 °C; an open door lets CO2 fall towards
  room air (0.04 %) within a minute or two and the chamber cool; once closed,
  CO2 recovers over minutes (the reason incubator CO2 limits have a delay);
- ln2_freezer: the LN2 level falls slowly (3 %/h) and the automatic fill
  brings it from 40 % back to 90 % in ten minutes; the vapour phase is near
  -190 °C, a little warmer as the level falls;
- freezer (-80 °C) and fridge (2-8 °C): held at their setpoint (the fridge's
  compressor cycling), an open door warms them, recovering once closed;
- bsc: inflow velocity near 0.5 m/s.

A ``EquipmentDrift`` adds a steady change per minute while it lasts (a
freezer door left open, a CO2 supply failing). A parameter no model knows
reads the middle of its limits, or of its plausible range.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Final

from envmon.facility import Equipment, Facility
from envmon.gmp import resolve_equipment_limits
from envmon.readings import RoomState
from envmon.simulate.events import EquipmentDoorOpening, EquipmentDrift, Event

CO2_SETPOINT_PCT: Final = 5.0
CO2_ROOM_AIR_PCT: Final = 0.04
CO2_OPEN_TAU_S: Final = 60.0
CO2_RECOVERY_TAU_S: Final = 150.0
INCUBATOR_C: Final = 37.0
INCUBATOR_OPEN_C_PER_MIN: Final = 0.8
RECOVERY_TAU_S: Final = 240.0
FREEZER_C: Final = -80.0
FREEZER_OPEN_C_PER_MIN: Final = 2.0
FRIDGE_C: Final = 5.0
FRIDGE_OPEN_C_PER_MIN: Final = 0.6
FRIDGE_CYCLE_S: Final = 1200.0
LN2_FULL_PCT: Final = 90.0
LN2_FILL_AT_PCT: Final = 40.0
LN2_FALL_PCT_PER_S: Final = 3.0 / 3600
LN2_FILL_PCT_PER_S: Final = 5.0 / 60
LN2_VAPOUR_C: Final = -190.0
BSC_INFLOW_M_S: Final = 0.5


def equipment_value(
    facility: Facility,
    item: Equipment,
    parameter: str,
    offset_s: float,
    events: Sequence[Event],
    seed: int,
    rng: random.Random,
) -> float:
    """What ``parameter`` of ``item`` reads ``offset_s`` after the scenario start."""
    door = _door(events, item.id, offset_s)
    kind = item.type.lower()
    value: float
    if kind == "incubator" and parameter == "co2":
        value = _co2(door, offset_s) + rng.gauss(0.0, 0.02)
    elif kind == "incubator" and parameter == "temperature":
        value = _warmed(INCUBATOR_C, -INCUBATOR_OPEN_C_PER_MIN, door, offset_s)
        value += rng.gauss(0.0, 0.03)
    elif kind in ("freezer", "ultra_low_freezer") and parameter == "temperature":
        value = _warmed(FREEZER_C, FREEZER_OPEN_C_PER_MIN, door, offset_s) + rng.gauss(0.0, 0.2)
    elif kind in ("fridge", "refrigerator") and parameter == "temperature":
        cycle = 0.4 * math.sin(2 * math.pi * offset_s / FRIDGE_CYCLE_S + _phase(seed, item.id))
        value = _warmed(FRIDGE_C, FRIDGE_OPEN_C_PER_MIN, door, offset_s) + cycle
        value += rng.gauss(0.0, 0.05)
    elif kind == "ln2_freezer" and parameter == "ln2_level":
        value = ln2_level(offset_s, _phase(seed, item.id))
    elif kind == "ln2_freezer":
        level = ln2_level(offset_s, _phase(seed, item.id))
        value = LN2_VAPOUR_C + 0.1 * (LN2_FULL_PCT - level) + rng.gauss(0.0, 0.3)
    elif kind == "bsc":
        value = BSC_INFLOW_M_S + rng.gauss(0.0, 0.008)
    else:
        value = _middle(facility, item, parameter)
    value += sum(
        e.rate_per_min * (min(offset_s, e.start_s + e.duration_s) - e.start_s) / 60.0
        for e in events
        if isinstance(e, EquipmentDrift)
        and e.equipment == item.id
        and e.parameter == parameter
        and offset_s >= e.start_s
    )
    return round(value, 3)


def _door(events: Sequence[Event], equipment: str, offset_s: float) -> EquipmentDoorOpening | None:
    """The latest door opening of the equipment that began by ``offset_s``."""
    began = [
        e
        for e in events
        if isinstance(e, EquipmentDoorOpening) and e.equipment == equipment
        and e.start_s <= offset_s
    ]  # fmt: skip
    return max(began, key=lambda e: e.start_s, default=None)


def _co2(door: EquipmentDoorOpening | None, offset_s: float) -> float:
    """Towards room air while the door is open; back to the setpoint once closed."""
    return _door_response(
        CO2_SETPOINT_PCT,
        door,
        offset_s,
        lambda open_s: (
            CO2_ROOM_AIR_PCT
            + (CO2_SETPOINT_PCT - CO2_ROOM_AIR_PCT) * math.exp(-open_s / CO2_OPEN_TAU_S)
        ),
        CO2_RECOVERY_TAU_S,
    )


def _warmed(
    setpoint: float, per_min: float, door: EquipmentDoorOpening | None, offset_s: float
) -> float:
    """Linear change while the door is open, exponential return once closed."""
    return _door_response(
        setpoint, door, offset_s, lambda open_s: setpoint + per_min * open_s / 60.0, RECOVERY_TAU_S
    )


def _door_response(
    setpoint: float,
    door: EquipmentDoorOpening | None,
    offset_s: float,
    while_open: Callable[[float], float],
    recovery_tau_s: float,
) -> float:
    """``while_open(seconds open)`` until the door closes, then an exponential return
    from where that left off to ``setpoint``; ``setpoint`` without a door opening."""
    if door is None:
        return setpoint
    closes_s = door.start_s + door.duration_s
    at_close = while_open(min(offset_s, closes_s) - door.start_s)
    closed_s = offset_s - closes_s
    if closed_s <= 0:
        return at_close
    return setpoint + (at_close - setpoint) * math.exp(-closed_s / recovery_tau_s)


def ln2_level(offset_s: float, phase: float) -> float:
    """A sawtooth: a slow fall from 90 % to 40 %, then the automatic fill back to 90 %."""
    fall_s = (LN2_FULL_PCT - LN2_FILL_AT_PCT) / LN2_FALL_PCT_PER_S
    fill_s = (LN2_FULL_PCT - LN2_FILL_AT_PCT) / LN2_FILL_PCT_PER_S
    t = (offset_s + phase / (2 * math.pi) * (fall_s + fill_s)) % (fall_s + fill_s)
    if t < fall_s:
        return LN2_FULL_PCT - LN2_FALL_PCT_PER_S * t
    return LN2_FILL_AT_PCT + LN2_FILL_PCT_PER_S * (t - fall_s)


def _phase(seed: int, equipment: str) -> float:
    return random.Random(f"{seed}:phase:{equipment}").uniform(0.0, 2 * math.pi)


def _middle(facility: Facility, item: Equipment, parameter: str) -> float:
    """Between the equipment's limits, else inside the parameter's plausible range."""
    limits = resolve_equipment_limits(item, parameter, RoomState.IN_OPERATION)
    low = limits.alert_low if limits.alert_low is not None else limits.action_low
    high = limits.alert_high if limits.alert_high is not None else limits.action_high
    lo, hi = facility.parameters[parameter].range
    if low is not None and high is not None:
        return (low + high) / 2
    if low is not None:
        return low + 0.1 * (hi - lo)
    if high is not None:
        return high - 0.1 * (hi - lo)
    return (lo + hi) / 2
