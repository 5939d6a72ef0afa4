"""The reminder check as a component: scheduled hourly, hands reminders to the notifiers.

The service constructs it, calls ``schedule()`` with its other jobs and
``replace_facility`` on reload; the check runs on the scheduler's thread
and only calls ``submit`` (the dispatcher's, which is thread-safe).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final

from apscheduler.schedulers.base import BaseScheduler

from envmon.alarms.events import AlarmEvent
from envmon.calibration.config import CalibrationSettings
from envmon.calibration.reminders import CalibrationReminders
from envmon.calibration.state import CalibrationRecord
from envmon.facility import Facility

log = logging.getLogger(__name__)

JOB_ID: Final = "calibration-reminders"
CHECK_EVERY_S: Final = 3600.0


class ReminderJob:
    """Hourly (and at start): the calibration reminders due, to ``submit``."""

    def __init__(
        self,
        scheduler: BaseScheduler,
        facility: Facility,
        settings: CalibrationSettings,
        submit: Callable[[Sequence[AlarmEvent]], object],
        *,
        records: Sequence[CalibrationRecord] = (),
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._scheduler = scheduler
        self._submit = submit
        self._clock_ns = clock_ns
        self._reminders = CalibrationReminders(facility, settings.remind_days, records)

    def schedule(self) -> None:
        self._scheduler.add_job(
            self.check,
            "interval",
            seconds=CHECK_EVERY_S,
            id=JOB_ID,
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
            replace_existing=True,
            next_run_time=datetime.now(UTC),
        )

    def replace_facility(self, facility: Facility) -> None:
        """A reloaded facility (due dates may have changed); reminders sent stay sent."""
        old = self._reminders
        self._reminders = CalibrationReminders(facility, old.remind_days, old.records, old.already)

    def replace_records(self, records: Sequence[CalibrationRecord]) -> None:
        """Signed calibration records (all of them), e.g. after ``envmon calibration record``."""
        old = self._reminders
        self._reminders = CalibrationReminders(old.facility, old.remind_days, records, old.already)

    def check(self) -> list[AlarmEvent]:
        """Submit the reminders due now; returns them."""
        events = self._reminders.due(self._clock_ns())
        for event in events:
            log.info("calibration reminder: %s", event.alarm.detail)
        if events:
            self._submit(events)
        return events
