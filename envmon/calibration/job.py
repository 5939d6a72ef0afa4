"""The calibration reminder check: run hourly (and at start) by the scheduled jobs
(``envmon.runtime.jobs``), it hands the reminders due to people's channels.

The check runs on the scheduler's thread and only calls ``submit`` (the
dispatcher's, which is thread-safe); the service calls ``replace_facility``
on reload and ``replace_records`` when a calibration record is signed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Final

from envmon.alarms.events import AlarmEvent
from envmon.calibration.config import CalibrationSettings
from envmon.calibration.reminders import CalibrationReminders
from envmon.calibration.state import CalibrationRecord
from envmon.facility import Facility

log = logging.getLogger(__name__)

CHECK_EVERY_S: Final = 3600.0


class ReminderJob:
    """Hourly (and at start): the calibration reminders due, to ``submit``."""

    def __init__(
        self,
        facility: Facility,
        settings: CalibrationSettings,
        submit: Callable[[Sequence[AlarmEvent]], object],
        *,
        records: Sequence[CalibrationRecord] = (),
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._submit = submit
        self._clock_ns = clock_ns
        self._reminders = CalibrationReminders(facility, settings.remind_days, records)

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
