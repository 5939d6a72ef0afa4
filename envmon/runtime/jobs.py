"""Scheduled jobs: APScheduler 3.x runs them on its own thread, and they only hand work on.

- every ``alarms.stale_check_interval_s``: look for silent sensors;
- every quarter of ``notify.escalate_after_s`` (at most 30 s): escalations;
- every ``alarms.limits_write_interval_s`` and at start: the limits in force;
- every 0.5 s: signed requests waiting in the journal (``envmon ack``, ``shelve``...),
  handed to the alarm worker, except reloads, which the service's main
  thread applies (``on_reload``);
- every second: alarms whose shelving has ended;
- every ``log.stats_interval_s``: envmon's own statistics;
- hourly and at start: calibration reminders (``envmon.calibration.job``);
- every ``storage.anchor_interval_s`` and at start: the journal's chain head to
  InfluxDB (``audit_anchor``);
- the facility's room-state schedules (``envmon.alarms.schedule``).

Every job tolerates lateness (``misfire_grace_time=None``): a late check must
still run, and several missed runs run once (``coalesce``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from apscheduler.schedulers.background import BackgroundScheduler

from envmon.alarms.commands import (
    ApplySigned,
    CheckEscalations,
    CheckStale,
    Command,
    ExpireShelved,
    SetRoomState,
    WriteLimits,
)
from envmon.alarms.schedule import schedule_room_states, validate_schedules
from envmon.calibration.job import CHECK_EVERY_S as CALIBRATION_CHECK_S
from envmon.calibration.job import ReminderJob
from envmon.facility import Facility
from envmon.journal.journal import Journal
from envmon.journal.requests import SignedRequest
from envmon.readings import RoomStateChange
from envmon.runtime.clock import Clock
from envmon.runtime.lifecycle import Deadline
from envmon.settings import Settings
from envmon.signing.rules import Act

REQUEST_POLL_S: Final = 0.5
SHELVING_CHECK_S: Final = 1.0
MAX_ESCALATION_CHECK_S: Final = 30.0


class Worker(Protocol):
    def submit(self, command: Command) -> None: ...


class Jobs:
    """The scheduler and its jobs; see the module docstring."""

    name = "scheduled jobs"

    def __init__(
        self,
        settings: Settings,
        facility: Facility,
        worker: Worker,
        journal: Journal,
        report_stats: Callable[[], None],
        reminders: ReminderJob,
        clock: Clock,
        *,
        write_anchor: Callable[[], None] = lambda: None,
        on_reload: Callable[[SignedRequest], None] = lambda request: None,
    ) -> None:
        self._settings = settings
        self._facility = facility
        self._worker = worker
        self._journal = journal
        self._report_stats = report_stats
        self.reminders = reminders
        self._clock = clock
        self._write_anchor = write_anchor
        self._on_reload = on_reload
        self._scheduler = BackgroundScheduler(timezone="UTC")

    def validate(self) -> None:
        validate_schedules(self._facility)

    def start(self) -> None:
        s = self._settings
        now = self._clock.wall_ns
        self._every(
            s.alarms.stale_check_interval_s,
            "stale-check",
            lambda: self._worker.submit(CheckStale(now())),
        )
        self._every(
            min(MAX_ESCALATION_CHECK_S, s.notify.escalate_after_s / 4),
            "escalation-check",
            lambda: self._worker.submit(CheckEscalations(now())),
        )
        self._every(
            s.alarms.limits_write_interval_s,
            "limits",
            lambda: self._worker.submit(WriteLimits(now())),
            next_run_time=datetime.now(UTC),
        )
        self._every(REQUEST_POLL_S, "signed-requests", self._poll_requests, max_instances=1)
        self._every(SHELVING_CHECK_S, "shelving", lambda: self._worker.submit(ExpireShelved(now())))
        self._every(s.log.stats_interval_s, "stats", self._report_stats)
        self._every(
            CALIBRATION_CHECK_S,
            "calibration-reminders",
            self.reminders.check,
            max_instances=1,
            next_run_time=datetime.now(UTC),
        )
        self._every(
            s.storage.anchor_interval_s,
            "audit-anchor",
            self._write_anchor,
            next_run_time=datetime.now(UTC),
        )
        self.reschedule_rooms(self._facility)
        self._scheduler.start()

    def reschedule_rooms(self, facility: Facility) -> None:
        """The room-state schedules of ``facility``, replacing those of the last load."""
        self._facility = facility
        self.reminders.replace_facility(facility)
        schedule_room_states(
            self._scheduler, facility, self._set_room_state, clock_ns=self._clock.wall_ns
        )

    def stop(self, deadline: Deadline) -> None:
        self._scheduler.shutdown(wait=False)

    def close(self) -> None:
        pass

    def _every(
        self, seconds: float, job_id: str, func: Callable[[], object], **options: Any
    ) -> None:
        self._scheduler.add_job(
            func,
            "interval",
            seconds=seconds,
            id=job_id,
            misfire_grace_time=None,
            coalesce=True,
            **options,
        )

    def _set_room_state(self, change: RoomStateChange) -> None:
        self._worker.submit(SetRoomState(change))

    def _poll_requests(self) -> None:
        for request in self._journal.requests.pending():
            if request.act == Act.RELOAD:
                self._on_reload(request)
            else:
                self._worker.submit(ApplySigned(request))
