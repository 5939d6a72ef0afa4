"""What the engine keeps per sensor, and the sensor's own alarms: fault, calibration,
communication loss (``engine.py`` says when each is raised and cleared)."""

from __future__ import annotations

from typing import Final

from envmon.alarms.channel import Channel
from envmon.alarms.events import Alarm, AlarmState, Level
from envmon.alarms.lifecycle import make_alarm_id
from envmon.alarms.room_states import RoomStateHistory
from envmon.facility import Facility
from envmon.gmp import LimitsTable
from envmon.readings import STATUS_OUT_OF_RANGE, Reading, StateInForce

SENSOR_FAULT: Final = "sensor_fault"
COMM_LOSS: Final = "comm_loss"
CALIBRATION: Final = "calibration"
_PARAMETER_OF_LEVEL: Final = {Level.FAULT: SENSOR_FAULT, Level.CALIBRATION: CALIBRATION}


class SensorState:
    """Everything the engine tracks for one (room, sensor)."""

    __slots__ = (
        "calibration_alarm_id",
        "channels",
        "comm_alarm_id",
        "equipment",
        "fault_alarm_id",
        "last_seen_ns",
        "last_ts_ns",
        "limits",
        "room",
        "room_states",
        "sensor",
    )

    def __init__(
        self,
        room: str,
        sensor: str,
        room_states: RoomStateHistory,
        equipment: str | None,
        limits: LimitsTable,
    ) -> None:
        self.room = room
        self.sensor = sensor
        self.room_states = room_states
        self.equipment = equipment
        self.limits = limits
        """The limits of the sensor's room, or of its equipment."""
        self.channels: dict[str, Channel] = {}
        self.last_ts_ns = -1
        self.last_seen_ns = 0
        """Wall time of the last reading (its ``received_ns``, else ``ts_ns``); 0 = never."""
        self.fault_alarm_id: str | None = None
        self.comm_alarm_id: str | None = None
        self.calibration_alarm_id: str | None = None


def sensor_alarm(
    site: str, st: SensorState, ts_ns: int, state: StateInForce, level: Level, detail: str
) -> Alarm:
    """A sensor's ``fault`` (parameter ``sensor_fault``) or ``calibration`` alarm."""
    parameter = _PARAMETER_OF_LEVEL[level]
    return Alarm(
        id=make_alarm_id(site, st.room, st.sensor, parameter, level, ts_ns),
        site=site,
        room=st.room,
        sensor=st.sensor,
        parameter=parameter,
        level=level,
        state=AlarmState.ACTIVE_UNACKED,
        raised_ns=ts_ns,
        room_state=state.value,
        detail=detail,
        equipment=st.equipment,
    )


def sensor_alarm_detail(facility: Facility, r: Reading, level: Level) -> str:
    """What a fault or calibration alarm says: the fault word, or the values out of range."""
    if level is Level.CALIBRATION:
        return (
            "reading taken after the sensor's calibration due date: readings are "
            "stamped calibration_overdue until a new calibration record is in force"
        )
    if r.status != STATUS_OUT_OF_RANGE:
        return f"sensor reports {r.status}"
    sensor = facility.sensors.get(r.sensor)
    beyond = []
    for parameter, value in r.values.items():
        if sensor is None or parameter not in facility.parameters:
            continue
        lo, hi = facility.range_of(sensor, parameter)
        if not lo <= value <= hi:
            unit = facility.unit_of(parameter)
            beyond.append(f"{parameter} {value:g} outside [{lo:g}, {hi:g}] {unit}")
    return "measuring range: " + ("; ".join(beyond) or "a value out of range")


def comm_loss_alarm(
    site: str, st: SensorState, stale_after: float, now_ns: int, silent_s: float, heard: bool
) -> Alarm:
    """``comm_loss`` at wall time ``now_ns``: silent ``silent_s`` (or never heard from)."""
    silence = f"for {silent_s:.0f} s" if heard else "since start"
    return Alarm(
        id=make_alarm_id(site, st.room, st.sensor, COMM_LOSS, Level.COMM_LOSS, now_ns),
        site=site,
        room=st.room,
        sensor=st.sensor,
        parameter=COMM_LOSS,
        level=Level.COMM_LOSS,
        state=AlarmState.ACTIVE_UNACKED,
        raised_ns=now_ns,
        limit=stale_after,
        value=round(silent_s, 3),
        room_state=st.room_states.at(now_ns).value,
        detail=f"no reading {silence} (stale after {stale_after:g} s)",
        equipment=st.equipment,
    )
