"""The calibration reminder check: run hourly (and at start) by the scheduled jobs
(``envmon.runtime.jobs``), it journals the reminders due and hands them to
people's channels.

The check runs on the scheduler's thread; the service calls
``replace_facility`` on reload (main thread) and ``replace_records`` when a
calibration record is applied (alarm worker thread), so the three take one
lock. ``journal`` records each reminder before it is sent, and the ids of
those recorded are what the service hands back as ``already`` at start: a
restart never sends the same reminder twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from envmon.alarms.events import AlarmEvent
from envmon.calibration.config import CalibrationSettings
from envmon.calibration.reminders import CalibrationReminders, Reminder, reminder_event
from envmon.calibration.state import CalibrationRecord
from envmon.errors import EnvmonError
from envmon.facility import Facility

log = logging.getLogger(__name__)

CHECK_EVERY_S: Final = 3600.0


class ReminderJob:
    """Hourly (and at start): the calibration reminders due, journaled, to ``submit``."""

    def __init__(
        self,
        facility: Facility,
        settings: CalibrationSettings,
        submit: Callable[[Sequence[AlarmEvent]], object],
        *,
        records: Sequence[CalibrationRecord] = (),
        already: Iterable[str] = (),
        journal: Callable[[Sequence[Reminder], int], object] = lambda reminders, now_ns: None,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._submit = submit
        self._journal = journal
        self._clock_ns = clock_ns
        self._lock = threading.Lock()
        self._reminders = CalibrationReminders(facility, settings.remind_days, records, already)

    def replace_facility(self, facility: Facility) -> None:
        """A reloaded facility (due dates may have changed); reminders sent stay sent."""
        with self._lock:
            old = self._reminders
            self._reminders = CalibrationReminders(
                facility, old.remind_days, old.records, old.already
            )

    def replace_records(self, records: Sequence[CalibrationRecord]) -> None:
        """Signed calibration records (all of them), e.g. after ``envmon calibration record``."""
        with self._lock:
            old = self._reminders
            self._reminders = CalibrationReminders(
                old.facility, old.remind_days, records, old.already
            )

    def check(self) -> list[AlarmEvent]:
        """Journal and submit the reminders due now; returns them as events.

        A reminder the journal could not take is still sent (a missed
        reminder is worse than a repeated one) and counts as sent for this run.
        """
        now_ns = self._clock_ns()
        with self._lock:
            reminders = self._reminders.take(now_ns)
            site = self._reminders.facility.site
        if not reminders:
            return []
        try:
            self._journal(reminders, now_ns)
        except EnvmonError as exc:
            log.error(
                "calibration reminders not journaled (a restart may send them again): %s", exc
            )
        events = [reminder_event(r, site, now_ns) for r in reminders]
        for event in events:
            log.info("calibration reminder: %s", event.alarm.detail)
        self._submit(events)
        return events
