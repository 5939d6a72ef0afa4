"""Calibration reminders: before a due date, through the notifiers. Pure.

For each day count d in ``[calibration] remind_days`` (default 30, 7, 0) a
reminder is due from 00:00 UTC d days before the due date (0: the due day
itself). At any moment only the latest one passed counts (a service started 5
days before the due date sends the 7-day reminder, not the 30-day one too),
and none once the sensor is overdue: its calibration alarm has taken over.

A reminder reaches the notifiers (webhook, email) as an ``AlarmEvent`` with
transition ``reminder`` and level ``calibration`` whose alarm is ``closed``
from the start (nothing to acknowledge); it is never an alarm of the journal
or of the retained alarm topics. ``CalibrationReminders`` is what the service
runs periodically (hourly is plenty).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from envmon.alarms.events import Alarm, AlarmEvent, AlarmState, Level, Transition
from envmon.calibration.state import (
    NS_PER_DAY,
    CalibrationRecord,
    CalibrationStatus,
    day_start_ns,
    state_of,
)
from envmon.facility import Facility

CALIBRATION: Final = "calibration"
"""The alarm parameter (and level) of calibration alarms and reminders."""


@dataclass(frozen=True, slots=True)
class Reminder:
    """A sensor's calibration falls due in ``days_left`` days (0: today); the reminder of
    ``days_before`` (one of ``remind_days``) is the one in force."""

    sensor: str
    room: str
    equipment: str | None
    due: date
    certificate: str | None
    days_before: int
    due_ns: int
    """When this reminder became due: 00:00 UTC ``days_before`` days before ``due``."""
    days_left: int
    """Whole days from the check's day (UTC) to the due date."""

    @property
    def id(self) -> str:
        """Deterministic, so that a reminder sent is known after a restart."""
        return reminder_id(self.sensor, self.due, self.days_before)

    @property
    def detail(self) -> str:
        when = {0: "today", 1: "tomorrow"}.get(self.days_left, f"in {self.days_left} days")
        cert = f" (certificate {self.certificate})" if self.certificate else ""
        return f"calibration of {self.sensor} due {when}, on {self.due.isoformat()}{cert}"


def reminder_id(sensor: str, due: date, days_before: int) -> str:
    """The id of the reminder ``days_before`` the due date ``due`` of ``sensor``."""
    key = f"{sensor}\x1f{due.isoformat()}\x1f{days_before}"
    return "cal-" + hashlib.sha256(key.encode()).hexdigest()[:10]


def due_reminders(
    facility: Facility,
    records: Sequence[CalibrationRecord],
    remind_days: Iterable[int],
    now_ns: int,
    already: set[str],
) -> list[Reminder]:
    """The reminder due now for each sensor, unless its id is in ``already``.

    Pure: the caller adds the returned ids to ``already`` and runs this
    periodically (hourly is plenty; a reminder is due from a day's start).
    """
    days = sorted(set(remind_days))
    out = []
    for sensor in facility.model.sensors:
        state = state_of(sensor, records, now_ns)
        if state.due is None or state.status is CalibrationStatus.OVERDUE:
            continue
        due_day = day_start_ns(state.due)
        passed = [d for d in days if now_ns >= due_day - d * NS_PER_DAY]
        if not passed:
            continue
        d = passed[0]
        reminder = Reminder(
            sensor=sensor.id,
            room=sensor.room,
            equipment=sensor.equipment,
            due=state.due,
            certificate=state.certificate,
            days_before=d,
            due_ns=due_day - d * NS_PER_DAY,
            days_left=(due_day - now_ns + NS_PER_DAY - 1) // NS_PER_DAY,
        )
        if reminder.id not in already:
            out.append(reminder)
    return out


def reminder_event(reminder: Reminder, site: str, now_ns: int) -> AlarmEvent:
    """A reminder as the notifiers take it: transition ``reminder``, level ``calibration``.

    Its alarm record is ``closed`` from the start: there is nothing to
    acknowledge, and it never enters the journal's alarm table.
    """
    alarm = Alarm(
        id=reminder.id,
        site=site,
        room=reminder.room,
        sensor=reminder.sensor,
        parameter=CALIBRATION,
        level=Level.CALIBRATION,
        state=AlarmState.CLOSED,
        raised_ns=now_ns,
        equipment=reminder.equipment,
        detail=reminder.detail,
    )
    return AlarmEvent(Transition.REMINDER, alarm, now_ns)


class CalibrationReminders:
    """The reminders due at each check, each sent once.

    ``already`` holds the ids sent before: the service journals every reminder
    it sends and restores their ids at start, so a restart does not send the
    reminder in force again.
    """

    def __init__(
        self,
        facility: Facility,
        remind_days: Iterable[int],
        records: Sequence[CalibrationRecord] = (),
        already: Iterable[str] = (),
    ) -> None:
        self.facility = facility
        self.remind_days = tuple(remind_days)
        self.records: tuple[CalibrationRecord, ...] = tuple(records)
        self.already: set[str] = set(already)

    def take(self, now_ns: int) -> list[Reminder]:
        """The reminders due now, from then on counted as sent."""
        reminders = due_reminders(
            self.facility, self.records, self.remind_days, now_ns, self.already
        )
        self.already.update(r.id for r in reminders)
        return reminders

    def due(self, now_ns: int) -> list[AlarmEvent]:
        """The reminder events to hand to the notifiers now (``take``, as events)."""
        return [reminder_event(r, self.facility.site, now_ns) for r in self.take(now_ns)]
