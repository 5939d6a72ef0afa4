"""The report's ``alarms``: every alarm of every level overlapping the window, pure.

An alarm overlaps the window ``[from, to)`` when it was raised before ``to``
and had not cleared before ``from`` (a still-active alarm overlaps every
later window). Its signatures are those the journal's alarm record holds
now (acknowledgement, shelving, unshelving, in order); its shelved periods
come from its ``shelved`` and ``unshelved`` journal entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from envmon.alarms.events import Alarm, Excursion, Level, Transition
from envmon.report.records import AlarmRecord, ShelvedPeriod

SENSOR_LEVELS = (Level.FAULT, Level.COMM_LOSS)
"""Alarms about the measurement itself (a broken or out-of-range transmitter, silence):
each calls for review of the data around it."""


def shelved_periods(entries: Iterable[tuple[Transition, int, Alarm]]) -> tuple[ShelvedPeriod, ...]:
    """An alarm's shelvings from its ``SHELVED`` and ``UNSHELVED`` entries in journal order,
    each ``(transition, at_ns, the alarm after it)``. The shelving signature is the one
    a ``SHELVED`` entry adds; an ``UNSHELVED`` entry that adds one was a signed unshelve,
    one that adds none the shelving running out."""
    periods: list[ShelvedPeriod] = []
    current: ShelvedPeriod | None = None
    signed_before = 0
    for transition, at_ns, alarm in entries:
        if transition is Transition.SHELVED and alarm.signatures:
            if current is not None:  # never two at once; kept rather than lost
                periods.append(current)
            current = ShelvedPeriod(at_ns, alarm.shelved_until_ns, alarm.signatures[-1])
            signed_before = len(alarm.signatures)
        elif transition is Transition.UNSHELVED and current is not None:
            ended_by = alarm.signatures[-1] if len(alarm.signatures) > signed_before else None
            periods.append(
                ShelvedPeriod(current.from_ns, current.until_ns, current.by, at_ns, ended_by)
            )
            current = None
    if current is not None:
        periods.append(current)
    return tuple(periods)


def overlaps(alarm: Alarm, from_ns: int, to_ns: int) -> bool:
    return alarm.raised_ns < to_ns and (alarm.cleared_ns is None or alarm.cleared_ns >= from_ns)


def report_order(at_ns: int, item: Alarm | Excursion) -> tuple[int, str, str, str, str, str]:
    """The order of the report's alarms and excursions: by time (``at_ns``), then
    room, equipment (the room's own first), parameter, level and id."""
    return (at_ns, item.room, item.equipment or "", item.parameter, item.level.value, item.id)


def alarms_in_window(
    records: Iterable[AlarmRecord], from_ns: int, to_ns: int, rooms: Iterable[str]
) -> tuple[AlarmRecord, ...]:
    """The rooms' alarms (their equipment's included) overlapping the window, by raise time."""
    wanted = set(rooms)
    return tuple(
        sorted(
            (r for r in records if r.alarm.room in wanted and overlaps(r.alarm, from_ns, to_ns)),
            key=lambda r: report_order(r.alarm.raised_ns, r.alarm),
        )
    )


def of_owner(records: Sequence[AlarmRecord], room: str, equipment: str | None) -> list[AlarmRecord]:
    """A room's own alarms (``equipment`` None), or one piece of equipment's."""
    return [r for r in records if r.alarm.room == room and r.alarm.equipment == equipment]


def alarm_json(record: AlarmRecord) -> dict[str, Any]:
    """The alarm's contract object (design.md sections 6 and 8) with its ``shelved`` periods."""
    return {**record.alarm.to_json(), "shelved": [p.to_json() for p in record.shelved]}
