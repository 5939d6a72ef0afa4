"""Room states from cron schedules in the facility file (APScheduler 3.x)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from envmon.alarms.schedule import schedule_room_states, validate_schedules
from envmon.errors import ConfigError
from envmon.facility import Facility, parse_facility
from envmon.readings import RoomState, RoomStateChange

BASE = """
site = "site1"
[[rooms]]
id = "FILL-A"
grade = "A"
"""

SHIFTS = (
    BASE
    + """
[[schedules]]
room = "FILL-A"
state = "in_operation"
cron = "0 6 * * mon-fri"
timezone = "Europe/Berlin"

[[schedules]]
room = "FILL-A"
state = "at_rest"
cron = "0 22 * * mon-fri"
timezone = "Europe/Berlin"
"""
)


def with_cron(cron: str, timezone: str = "UTC") -> Facility:
    return parse_facility(
        BASE + f'[[schedules]]\nroom = "FILL-A"\nstate = "at_rest"\ncron = "{cron}"\n'
        f'timezone = "{timezone}"\n'
    )


class TestScheduleRoomStates:
    def test_one_job_per_schedule_never_skipped(self) -> None:
        """Each schedule becomes a cron job in its time zone with no misfire limit."""
        scheduler = BackgroundScheduler()
        jobs = schedule_room_states(scheduler, parse_facility(SHIFTS), lambda change: None)
        assert len(jobs) == 2
        assert all(job.misfire_grace_time is None and job.coalesce for job in jobs)
        berlin = ZoneInfo("Europe/Berlin")
        first = jobs[0].trigger.get_next_fire_time(None, datetime(2026, 11, 24, 7, tzinfo=berlin))
        assert first == datetime(2026, 11, 25, 6, tzinfo=berlin)

    def test_job_reports_the_state_change(self) -> None:
        """Running a job reports the room, state, wall time and source "schedule"."""
        seen: list[RoomStateChange] = []
        scheduler = BackgroundScheduler()
        jobs = schedule_room_states(
            scheduler, parse_facility(SHIFTS), seen.append, clock_ns=lambda: 123
        )
        jobs[1].func(*jobs[1].args)
        assert seen == [RoomStateChange(123, "site1", "FILL-A", RoomState.AT_REST, "schedule")]

    def test_reload_replaces_previous_jobs(self) -> None:
        """Scheduling again after a reload leaves only the new schedules' jobs."""
        scheduler = BackgroundScheduler()
        schedule_room_states(scheduler, parse_facility(SHIFTS), lambda change: None)
        schedule_room_states(scheduler, with_cron("0 0 * * *"), lambda change: None)
        assert len(scheduler.get_jobs()) == 1

    def test_bad_cron_is_a_config_error(self) -> None:
        """A malformed cron expression names the schedule and the expression."""
        with pytest.raises(
            ConfigError, match=r"schedules\[0\] \(FILL-A → at_rest\): cron '61 \* \* \* \*'"
        ):
            validate_schedules(with_cron("61 * * * *"))

    def test_bad_timezone_is_a_config_error(self) -> None:
        """An unknown time zone is refused with its name."""
        with pytest.raises(ConfigError, match="timezone 'Mars/Olympus'"):
            schedule_room_states(
                BackgroundScheduler(), with_cron("0 6 * * *", "Mars/Olympus"), lambda c: None
            )
