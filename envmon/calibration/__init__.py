"""Sensor calibration: due dates and signed records, overdue stamping, reminders.

- ``state``: the calibration state of a sensor at any time (pure), the timeline
  ingest stamps ``calibration_overdue`` from, overdue spans for reports;
- ``reminders``: reminders before the due date, as notifier events (pure);
- ``records``: what a signed calibration record carries, and when one is
  refused (pure; the records themselves live in the journal);
- ``config``: the ``[calibration]`` settings section;
- ``job``: the hourly reminder check the service schedules (imported on its own:
  it needs APScheduler).
"""

from envmon.calibration.config import CalibrationSettings
from envmon.calibration.reminders import (
    CALIBRATION,
    CalibrationReminders,
    Reminder,
    due_reminders,
    reminder_event,
)
from envmon.calibration.state import (
    SOURCE_FILE,
    CalibrationRecord,
    CalibrationState,
    CalibrationStatus,
    OverdueTimeline,
    calibration_state,
    day_start_ns,
    overdue_from_ns,
    overdue_spans,
    state_of,
)

__all__ = [
    "CALIBRATION",
    "SOURCE_FILE",
    "CalibrationRecord",
    "CalibrationReminders",
    "CalibrationSettings",
    "CalibrationState",
    "CalibrationStatus",
    "OverdueTimeline",
    "Reminder",
    "calibration_state",
    "day_start_ns",
    "due_reminders",
    "overdue_from_ns",
    "overdue_spans",
    "reminder_event",
    "state_of",
]
