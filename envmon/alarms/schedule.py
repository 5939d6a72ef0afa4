"""Room states from the facility file's cron schedules (e.g. production shifts).

Each ``[[schedules]]`` entry becomes an APScheduler 3.x cron job that reports
a ``RoomStateChange`` (``source="schedule"``). A late job still runs: a missed
shift start must not leave a room judged under the wrong limits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from zoneinfo import ZoneInfoNotFoundError

from apscheduler.job import Job
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from envmon.errors import ConfigError
from envmon.facility import Facility, StateSchedule
from envmon.readings import RoomState, RoomStateChange

SCHEDULE_SOURCE = "schedule"
_JOB_PREFIX = "room-state-"


def cron_trigger(facility: Facility, index: int) -> CronTrigger:
    """The trigger of ``schedules[index]``; ``ConfigError`` names the file and key."""
    schedule = facility.model.schedules[index]
    try:
        return CronTrigger.from_crontab(schedule.cron, timezone=schedule.timezone)
    except (ValueError, ZoneInfoNotFoundError) as exc:
        where = str(facility.path) if facility.path else "<facility>"
        raise ConfigError(
            f"{where}: schedules[{index}] ({schedule.room} → {schedule.state.value}): "
            f"cron {schedule.cron!r} timezone {schedule.timezone!r}: {exc}"
        ) from None


def validate_schedules(facility: Facility) -> None:
    """Raise ``ConfigError`` for the first schedule whose cron or timezone is wrong."""
    for index in range(len(facility.model.schedules)):
        cron_trigger(facility, index)


def schedule_room_states(
    scheduler: BaseScheduler,
    facility: Facility,
    on_change: Callable[[RoomStateChange], None],
    *,
    clock_ns: Callable[[], int] = time.time_ns,
) -> list[Job]:
    """Add one job per schedule (removing the jobs of a previous load); returns them.

    ``on_change`` runs on the scheduler's thread with the wall time of the run.
    """
    validate_schedules(facility)
    for job in scheduler.get_jobs():
        if job.id.startswith(_JOB_PREFIX):
            job.remove()
    jobs = []
    for index, schedule in enumerate(facility.model.schedules):
        jobs.append(
            scheduler.add_job(
                _report_state,
                cron_trigger(facility, index),
                args=(on_change, clock_ns, facility.site, schedule),
                id=f"{_JOB_PREFIX}{index}",
                name=f"{schedule.room} → {schedule.state.value} ({schedule.cron})",
                misfire_grace_time=None,  # never skip a late run
                coalesce=True,  # several missed runs set the state once
                max_instances=1,
                replace_existing=True,
            )
        )
    return jobs


def _report_state(
    on_change: Callable[[RoomStateChange], None],
    clock_ns: Callable[[], int],
    site: str,
    schedule: StateSchedule,
) -> None:
    on_change(
        RoomStateChange(
            ts_ns=clock_ns(),
            site=site,
            room=schedule.room,
            state=RoomState(schedule.state),
            source=SCHEDULE_SOURCE,
        )
    )
