"""What the pages show, as plain values: alarm rows in the chosen order, times, ages.

Pure functions of journal records, the facility's parameters and a time; the
templates only lay them out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from envmon.alarms.events import Alarm, AlarmState, Rule
from envmon.facility import ParameterInfo
from envmon.readings import NS_PER_S, isoformat_ns
from envmon.report.text import where_text

DASH: Final = "\u2013"
"""What a page shows for a value that is not there."""

# Most urgent first: an action excursion is product at risk; losing a sensor's
# data or the sensor itself blinds the room; an alert is an early warning.
_SEVERITY: Final = {
    level: rank
    for rank, level in enumerate(("action", "comm_loss", "fault", "alert", "calibration"))
}
_STATE_ORDER = {
    AlarmState.ACTIVE_UNACKED.value: 0,
    AlarmState.CLEARED_UNACKED.value: 1,
    AlarmState.ACTIVE_ACKED.value: 2,
}

STATE_LABELS = {
    "active_unacked": f"ACTIVE {DASH} not acknowledged",
    "active_acked": f"ACTIVE {DASH} acknowledged",
    "cleared_unacked": f"CLEARED {DASH} not acknowledged",
    "closed": "CLOSED",
    "shelved": "SHELVED",
}


# The built-in parameters and envmon's own alarm parameters in the console's words
# (lower case, to sit inside a sentence); declared ones read as the facility names them.
PARAMETER_LABELS: Final = {
    "particles_0_5um": "particles \u2265 0.5 \u00b5m",
    "particles_5_0um": "particles \u2265 5.0 \u00b5m",
    "temperature": "temperature",
    "humidity": "humidity",
    "diff_pressure": "differential pressure",
    "comm_loss": "communication loss",
    "sensor_fault": "sensor fault",
    "calibration": "calibration",
}

# Units of envmon's own alarm parameters: a comm-loss alarm's value is how long
# the sensor has been silent, its limit the silence allowed (``stale_after``).
OWN_UNITS: Final = {"comm_loss": "s"}


@dataclass(frozen=True, slots=True)
class ParameterWords:
    """How the pages name a parameter and write its values, from the facility's
    parameters (``Facility.parameters``): built-in ones in the console's words with
    their contract units, declared ones by the name and unit the facility file gives,
    anything else (a parameter since removed from the file) by its id, without a unit.
    """

    parameters: Mapping[str, ParameterInfo]

    def label(self, parameter: str) -> str:
        own = PARAMETER_LABELS.get(parameter)
        if own is not None:
            return own
        info = self.parameters.get(parameter)
        return info.name if info is not None else parameter

    def unit(self, parameter: str) -> str:
        info = self.parameters.get(parameter)
        if info is not None:
            return info.unit
        return OWN_UNITS.get(parameter, "")

    def value(self, value: float | None, parameter: str, rule: str | None = None) -> str:
        """``value`` in ``parameter``'s unit, per minute for a rate-of-change rule
        (its value, peak and limit are changes per minute); a dash for None."""
        unit = self.unit(parameter)
        if rule == Rule.RATE:
            unit = f"{unit}/min" if unit else "per min"
        return format_value(value, unit)


def where(room: str, equipment: str | None) -> str:
    """A room, or a piece of equipment as its alarm topics name it: ``CELL-B/INC-01``."""
    return where_text(room, equipment, "/")


def level_label(level: str) -> str:
    return level.replace("_", " ")


class SortKey(StrEnum):
    """Orders of the active alarm list."""

    PRIORITY = "priority"
    """Unacknowledged first, then by level, newest first: what needs a person now."""
    ROOM = "room"
    LEVEL = "level"
    AGE = "age"
    """Oldest first."""


@dataclass(frozen=True, slots=True)
class AlarmRow:
    """One line of the alarm list, ready to print."""

    id: str
    room: str
    equipment: str
    """Empty for a sensor of the room itself."""
    sensor: str
    parameter: str
    parameter_label: str
    level: str
    state: str
    state_label: str
    raised_at: str
    raised_label: str
    age: str
    value: str
    limit: str
    """Empty when the alarm has no limit (communication loss, sensor fault)."""
    acked_by: str
    needs_ack: bool
    shelved: bool
    shelved_until: str
    """When a shelved alarm returns; empty unless shelved."""


def severity(level: str) -> int:
    """0 for the most severe level; unknown levels after all known ones."""
    return _SEVERITY.get(level, len(_SEVERITY))


def format_value(value: float | None, unit: str = "") -> str:
    """Thousands separated from 1 000 on, else four significant digits; a dash for None."""
    if value is None:
        return DASH
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return f"{text} {unit}".strip()


def time_label(ts_ns: int | None) -> str:
    """``2026-12-03 10:00:05 UTC``; a dash for None."""
    if ts_ns is None:
        return DASH
    return isoformat_ns(ts_ns - ts_ns % NS_PER_S).replace("T", " ").replace("Z", " UTC")


def age_label(seconds: float) -> str:
    """A short age: ``45 s``, ``12 min``, ``3 h 05 min``, ``2 d 04 h``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600:02d} h"


def alarm_row(alarm: Alarm, now_ns: int, words: ParameterWords) -> AlarmRow:
    """An alarm as the list shows it. A shelved alarm shows as shelved; whether it
    needs acknowledging is read through the shelving, but it can only be
    acknowledged once unshelved (as on the command line)."""
    state = alarm.state.value
    underneath = alarm.lifecycle_state.value
    return AlarmRow(
        id=alarm.id,
        room=alarm.room,
        equipment=alarm.equipment or "",
        sensor=alarm.sensor,
        parameter=alarm.parameter,
        parameter_label=words.label(alarm.parameter),
        level=alarm.level.value,
        state=state,
        state_label=STATE_LABELS.get(state, state),
        raised_at=isoformat_ns(alarm.raised_ns),
        raised_label=time_label(alarm.raised_ns),
        age=age_label((now_ns - alarm.raised_ns) / NS_PER_S),
        value=words.value(
            alarm.peak if alarm.peak is not None else alarm.value, alarm.parameter, alarm.rule
        ),
        limit="" if alarm.limit is None else words.value(alarm.limit, alarm.parameter, alarm.rule),
        acked_by=alarm.acked_by or "",
        needs_ack=not alarm.shelved and underneath in ("active_unacked", "cleared_unacked"),
        shelved=alarm.shelved,
        shelved_until=time_label(alarm.shelved_until_ns) if alarm.shelved else "",
    )


def sort_alarms(alarms: Sequence[Alarm], key: SortKey, descending: bool = False) -> list[Alarm]:
    """The alarms in ``key`` order; ``descending`` reverses it. Ties: newest first, then id."""

    def priority(a: Alarm) -> tuple[Any, ...]:
        # Shelved alarms were set aside on purpose: after every other open alarm.
        order = 4 if a.shelved else _STATE_ORDER.get(a.state.value, 3)
        return (order, severity(a.level.value), -a.raised_ns, a.id)

    if key is SortKey.ROOM:
        ordered = sorted(alarms, key=lambda a: (a.room, *priority(a)))
    elif key is SortKey.LEVEL:
        ordered = sorted(alarms, key=lambda a: (severity(a.level.value), -a.raised_ns, a.id))
    elif key is SortKey.AGE:
        ordered = sorted(alarms, key=lambda a: (a.raised_ns, a.id))
    else:
        ordered = sorted(alarms, key=priority)
    return ordered[::-1] if descending else ordered


def parse_sort(value: str | None) -> SortKey:
    try:
        return SortKey(value or SortKey.PRIORITY.value)
    except ValueError:
        return SortKey.PRIORITY
