"""What the sensors and rooms pages show: each sensor's service and calibration
state, each room's state now and where it came from. Reads only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from envmon.alarms.events import Alarm
from envmon.console.views import age_label, time_label
from envmon.facility import Facility
from envmon.readings import NS_PER_S, RoomStateChange, ns_to_datetime

CALIBRATION_SOON_DAYS = 30


@dataclass(frozen=True, slots=True)
class ServiceView:
    """A sensor's service state as the page shows it."""

    in_service: bool
    label: str
    since: str = ""
    until: str = ""
    by: str = ""
    comment: str = ""


IN_SERVICE = ServiceView(in_service=True, label="in service")


@dataclass(frozen=True, slots=True)
class SensorRow:
    id: str
    room: str
    equipment: str
    """The equipment the sensor is on; empty for a room's own sensor."""
    kind: str
    interval: str
    service: ServiceView
    calibration: str
    calibration_state: str
    """``ok``, ``due_soon``, ``overdue`` or ``unknown``."""
    alarms: int


@dataclass(frozen=True, slots=True)
class RoomRow:
    id: str
    name: str
    grade: str
    state: str
    since: str
    source: str
    known: bool
    default_state: str
    sensors: int
    """All the room's sensors, its equipment's included: the open alarms count theirs too."""
    on_equipment: int
    equipment: tuple[str, ...]
    alarms: int


def calibration_of(due: date | None, certificate: str | None, today: date) -> tuple[str, str]:
    """(label, state) for a calibration due date; ``unknown`` when none is recorded."""
    if due is None:
        return "no calibration recorded", "unknown"
    cert = f" (certificate {certificate})" if certificate else ""
    days = (due - today).days
    if days < 0:
        return f"OVERDUE since {due.isoformat()}{cert}", "overdue"
    if days <= CALIBRATION_SOON_DAYS:
        return f"due {due.isoformat()}, in {days} days{cert}", "due_soon"
    return f"due {due.isoformat()}{cert}", "ok"


def sensor_rows(
    facility: Facility,
    services: dict[str, ServiceView],
    alarms: list[Alarm],
    now_ns: int,
) -> list[SensorRow]:
    today = ns_to_datetime(now_ns).date()
    rows = []
    for sensor in sorted(facility.model.sensors, key=lambda s: (s.room, s.id)):
        label, state = calibration_of(
            getattr(sensor, "calibration_due", None), getattr(sensor, "certificate", None), today
        )
        rows.append(
            SensorRow(
                id=sensor.id,
                room=sensor.room,
                equipment=sensor.equipment or "",
                kind=str(sensor.kind),
                interval=age_label(sensor.interval_s),
                service=services.get(sensor.id, IN_SERVICE),
                calibration=label,
                calibration_state=state,
                alarms=sum(1 for a in alarms if a.sensor == sensor.id),
            )
        )
    return rows


def room_rows(
    facility: Facility, latest: list[RoomStateChange], alarms: list[Alarm], now_ns: int
) -> list[RoomRow]:
    """Each room with its last recorded state change (``latest``: at most one per room)."""
    by_room = {c.room: c for c in latest}
    rows = []
    for room in facility.model.rooms:
        change = by_room.get(room.id)
        equipment = facility.equipment_in(room.id)
        on_equipment = sum(len(facility.sensors_on(e.id)) for e in equipment)
        rows.append(
            RoomRow(
                id=room.id,
                name=room.name,
                grade=room.grade_tag,
                state=change.state.value if change else str(room.default_state),
                since=(
                    f"{time_label(change.ts_ns)} ({age_label((now_ns - change.ts_ns) / NS_PER_S)})"
                    if change
                    else ""
                ),
                source=change.source if change else "",
                known=change is not None,
                default_state=str(room.default_state),
                sensors=len(facility.sensors_in(room.id)) + on_equipment,
                on_equipment=on_equipment,
                equipment=tuple(e.id for e in equipment),
                alarms=sum(1 for a in alarms if a.room == room.id),
            )
        )
    return rows
