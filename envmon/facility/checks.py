"""Checks that need the whole facility file: does each name refer to something?

``problems(model)`` returns every problem as ``key: message``, the key written
as in the file (``sensors[3] (INC-01-S1).parameters``), so that a facility
engineer finds each line at once. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from envmon.facility.model import FacilityModel, ParameterLimits, Sensor
from envmon.facility.parameters import ParameterInfo, id_problem, parameter_registry
from envmon.readings import PARAMETERS_BY_KIND, Kind


def problems(model: FacilityModel) -> list[str]:
    """Every problem of the file's references, in file order; empty when there is none."""
    out: list[str] = []
    out += _duplicates("parameters", [p.id for p in model.parameters])
    out += _duplicates("rooms", [r.id for r in model.rooms])
    out += _duplicates("equipment", [e.id for e in model.equipment])
    out += _duplicates("sensors", [s.id for s in model.sensors])
    registry = parameter_registry(model.parameters)
    out += _parameter_problems(model)
    rooms = {r.id for r in model.rooms}
    for i, room in enumerate(model.rooms):
        where = f"rooms[{i}] ({room.id})"
        if room.reference is not None and room.reference not in rooms:
            out.append(f"{where}.reference: no room {room.reference!r}")
        out += _limit_problems(where, room.limits, registry)
    equipment = {e.id: e for e in model.equipment}
    for i, item in enumerate(model.equipment):
        where = f"equipment[{i}] ({item.id})"
        if item.room not in rooms:
            out.append(f"{where}.room: no room {item.room!r}")
        if item.id in rooms:
            out.append(f"{where}.id: {item.id!r} is a room's id too: give the equipment its own")
        out += _limit_problems(where, item.limits, registry)
    for i, sensor in enumerate(model.sensors):
        out += _sensor_problems(f"sensors[{i}] ({sensor.id})", sensor, rooms, equipment, registry)
    for i, schedule in enumerate(model.schedules):
        if schedule.room not in rooms:
            out.append(f"schedules[{i}].room: no room {schedule.room!r}")
    return out


def _duplicates(what: str, ids: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for ident in ids:
        if ident in seen:
            out.append(f"{what}: id {ident!r} appears twice")
        seen.add(ident)
    return out


def _parameter_problems(model: FacilityModel) -> list[str]:
    out = []
    for i, declared in enumerate(model.parameters):
        where = f"parameters[{i}] ({declared.id})"
        why = id_problem(declared.id)
        if why is not None:
            out.append(f"{where}.id: {why}")
        lo, hi = declared.range
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            out.append(f"{where}.range: [{lo:g}, {hi:g}] must be two finite numbers, low first")
    return out


def _known(registry: Mapping[str, ParameterInfo]) -> str:
    builtin = [p for p, info in registry.items() if info.builtin]
    declared = [p for p, info in registry.items() if not info.builtin]
    text = f"built in: {', '.join(builtin)}"
    return text + (f"; declared: {', '.join(declared)}" if declared else "; declared: none")


def _limit_problems(
    where: str, limits: Mapping[str, ParameterLimits], registry: Mapping[str, ParameterInfo]
) -> list[str]:
    return [
        f"{where}.limits.{parameter}: unknown parameter ({_known(registry)})"
        for parameter in limits
        if parameter not in registry
    ]


def _sensor_problems(
    where: str,
    sensor: Sensor,
    rooms: set[str],
    equipment: Mapping[str, object],
    registry: Mapping[str, ParameterInfo],
) -> list[str]:
    out = []
    on_equipment = sensor.equipment is not None
    if on_equipment and sensor.room:
        out.append(
            f"{where}: give either room or equipment, not both (a sensor on equipment "
            "is in the equipment's room)"
        )
    elif not on_equipment and not sensor.room:
        out.append(f"{where}.room: required key is missing (or equipment = ID for equipment)")
    elif sensor.room and sensor.room not in rooms:
        out.append(f"{where}.room: no room {sensor.room!r}")
    if sensor.equipment is not None and sensor.equipment not in equipment:
        out.append(f"{where}.equipment: no equipment {sensor.equipment!r}")
    if sensor.kind is Kind.EQUIPMENT:
        if not on_equipment:
            out.append(f'{where}.kind: "equipment" needs equipment = ID (the equipment it is on)')
        if not sensor.parameters:
            out.append(
                f"{where}.parameters: required for kind equipment: the parameters it measures"
            )
    else:
        if on_equipment:
            out.append(f'{where}.kind: a sensor on equipment has kind = "equipment"')
        if sensor.parameters is not None:
            out.append(
                f"{where}.parameters: only for kind equipment; a {sensor.kind.value} sensor "
                f"measures {', '.join(PARAMETERS_BY_KIND[sensor.kind])}"
            )
    measured = _measured(sensor)
    out += _duplicates(f"{where}.parameters", list(sensor.parameters or ()))
    for parameter in sensor.parameters or ():
        if parameter not in registry:
            out.append(
                f"{where}.parameters: {parameter!r} is not a parameter of this facility "
                f"({_known(registry)})"
            )
    out += _range_problems(where, sensor, measured, registry)
    if sensor.certificate is not None and sensor.calibration_due is None:
        out.append(f"{where}.certificate: needs calibration_due (the date it is valid until)")
    return out


def _measured(sensor: Sensor) -> tuple[str, ...]:
    if sensor.kind is Kind.EQUIPMENT:
        return sensor.parameters or ()
    return PARAMETERS_BY_KIND[sensor.kind]


def _range_problems(
    where: str, sensor: Sensor, measured: Iterable[str], registry: Mapping[str, ParameterInfo]
) -> list[str]:
    out = []
    measured = set(measured)
    for parameter, (lo, hi) in sensor.range.items():
        key = f"{where}.range.{parameter}"
        info = registry.get(parameter)
        if parameter not in measured or info is None:
            out.append(f"{key}: the sensor does not measure {parameter!r}")
            continue
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            out.append(f"{key}: [{lo:g}, {hi:g}] must be two finite numbers, low first")
            continue
        p_lo, p_hi = info.range
        if lo < p_lo or hi > p_hi:
            out.append(
                f"{key}: [{lo:g}, {hi:g}] reaches beyond {parameter}'s plausible range "
                f"[{p_lo:g}, {p_hi:g}] {info.unit}: a sensor's range can only narrow it"
            )
    return out
