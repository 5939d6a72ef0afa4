"""Calibration state over time: file entries, signed records, overdue stamping, reminders."""

from __future__ import annotations

from datetime import UTC, date, datetime

from envmon.alarms.events import AlarmState, Level, Transition
from envmon.calibration import (
    CalibrationRecord,
    CalibrationReminders,
    CalibrationSettings,
    CalibrationStatus,
    OverdueTimeline,
    calibration_state,
    due_reminders,
    overdue_from_ns,
    overdue_spans,
    reminder_event,
)
from envmon.calibration.job import ReminderJob
from envmon.facility import parse_facility
from envmon.readings import datetime_to_ns

FACILITY = parse_facility("""
site = "s1"
[[rooms]]
id = "R1"
grade = "C"
[[equipment]]
id = "FRZ-01"
room = "R1"
type = "freezer"
[[sensors]]
id = "S1"
room = "R1"
kind = "pressure"
calibration_due = 2027-06-30
certificate = "CAL-1"
[[sensors]]
id = "S2"
equipment = "FRZ-01"
kind = "equipment"
parameters = ["temperature"]
calibration_due = 2027-03-10
[[sensors]]
id = "S3"
room = "R1"
kind = "climate"
""")
S1 = FACILITY.sensors["S1"]


def at(text: str) -> int:
    """``2027-06-30T12:00`` (UTC) in ns."""
    return datetime_to_ns(datetime.fromisoformat(text).replace(tzinfo=UTC))


def record(
    due: str, signed: str, certificate: str = "CAL-2", sensor: str = "S1"
) -> CalibrationRecord:
    return CalibrationRecord(sensor, date.fromisoformat(due), certificate, at(signed))


class TestCalibrationState:
    def test_file_entry_is_in_date_through_the_due_day(self) -> None:
        """The due date is valid all day (UTC); overdue from 00:00 the day after."""
        due = date(2027, 6, 30)
        before = calibration_state("S1", due, "CAL-1", [], at("2027-06-30T23:59:59"))
        after = calibration_state("S1", due, "CAL-1", [], at("2027-07-01T00:00"))
        assert before.status is CalibrationStatus.IN_DATE
        assert after.status is CalibrationStatus.OVERDUE
        assert after.overdue_from_ns == at("2027-07-01T00:00") == overdue_from_ns(due)
        assert (after.due, after.certificate, after.source) == (due, "CAL-1", "facility file")

    def test_no_due_date_is_never_overdue(self) -> None:
        """A sensor without a due date is not set, whatever the time."""
        state = calibration_state("S3", None, None, [], at("2099-01-01T00:00"))
        assert state.status is CalibrationStatus.NOT_SET
        assert state.days_left(at("2099-01-01T00:00")) is None

    def test_record_overrides_the_file_from_its_signing_on(self) -> None:
        """Before a record is signed the file applies; from then on the record."""
        records = [record("2028-06-30", "2027-07-03T09:00")]
        overdue = calibration_state(
            "S1", date(2027, 6, 30), "CAL-1", records, at("2027-07-02T00:00")
        )
        renewed = calibration_state(
            "S1", date(2027, 6, 30), "CAL-1", records, at("2027-07-03T09:00")
        )
        assert overdue.status is CalibrationStatus.OVERDUE
        assert (renewed.status, renewed.due, renewed.certificate) == (
            CalibrationStatus.IN_DATE,
            date(2028, 6, 30),
            "CAL-2",
        )
        assert renewed.source == "record signed 2027-07-03T09:00:00Z"

    def test_latest_record_wins_and_other_sensors_records_do_not_count(self) -> None:
        """Of several records the last signed by then applies; another sensor's never does."""
        records = [
            record("2028-01-01", "2027-01-01T00:00", "A"),
            record("2029-01-01", "2027-02-01T00:00", "B"),
            record("2030-01-01", "2027-01-15T00:00", "X", sensor="S2"),
        ]
        assert (
            calibration_state("S1", None, None, records, at("2027-01-20T00:00")).certificate == "A"
        )
        assert (
            calibration_state("S1", None, None, records, at("2027-03-01T00:00")).certificate == "B"
        )

    def test_days_left_counts_whole_days_to_the_end_of_the_due_day(self) -> None:
        """Days left are whole days to 00:00 after the due date; negative when overdue."""
        state = calibration_state("S1", date(2027, 6, 30), None, [], at("2027-06-20T12:00"))
        assert state.days_left(at("2027-06-20T12:00")) == 10
        assert state.days_left(at("2027-07-02T12:00")) == -2


class TestOverdueTimeline:
    def test_matches_the_state_at_every_time(self) -> None:
        """Stamping agrees with ``calibration_state`` before, between and after records."""
        records = [
            record("2027-08-31", "2027-07-10T00:00"),
            record("2026-01-01", "2027-09-10T00:00", "WRONG"),
        ]
        timeline = OverdueTimeline(date(2027, 6, 30), records, "S1")
        for text in (
            "2027-06-30T23:59", "2027-07-01T00:00", "2027-07-09T23:59", "2027-07-10T00:00",
            "2027-08-31T23:00", "2027-09-01T00:00", "2027-09-10T00:00", "2030-01-01T00:00",
        ):  # fmt: skip
            expected = calibration_state("S1", date(2027, 6, 30), None, records, at(text))
            assert timeline.overdue_at(at(text)) is (
                expected.status is CalibrationStatus.OVERDUE
            ), text

    def test_without_due_date_never_overdue(self) -> None:
        """No date, no records: never overdue."""
        assert not OverdueTimeline(None, [], "S3").overdue_at(at("2099-01-01T00:00"))


class TestOverdueSpans:
    def test_span_from_due_to_the_record(self) -> None:
        """Overdue from the day after the due date until a record renews it."""
        records = [record("2028-06-30", "2027-07-05T12:00")]
        spans = overdue_spans(S1, records, at("2027-06-29T00:00"), at("2027-07-10T00:00"))
        assert spans == [(at("2027-07-01T00:00"), at("2027-07-05T12:00"))]

    def test_in_date_window_has_no_span(self) -> None:
        """A window before the due date has none."""
        assert overdue_spans(S1, [], at("2027-01-01T00:00"), at("2027-02-01T00:00")) == []

    def test_overdue_all_window(self) -> None:
        """A window entirely after the due date is one span."""
        spans = overdue_spans(S1, [], at("2027-08-01T00:00"), at("2027-08-02T00:00"))
        assert spans == [(at("2027-08-01T00:00"), at("2027-08-02T00:00"))]


class TestReminders:
    def test_latest_threshold_passed_is_due_once(self) -> None:
        """Five days before the due date only the 7-day reminder is due, once."""
        now = at("2027-06-25T08:00")
        reminders = due_reminders(FACILITY, [], (30, 7, 0), now, set())
        by_sensor = {r.sensor: r for r in reminders}
        assert set(by_sensor) == {"S1"}
        assert by_sensor["S1"].days_before == 7
        assert by_sensor["S1"].due_ns == at("2027-06-23T00:00")
        assert due_reminders(FACILITY, [], (30, 7, 0), now, {by_sensor["S1"].id}) == []

    def test_each_threshold_in_turn(self) -> None:
        """30 days, 7 days and the due day each give a reminder of their own."""
        sent: set[str] = set()
        days = []
        for text in ("2027-05-31T00:00", "2027-06-01T00:00", "2027-06-23T00:00",
                     "2027-06-30T00:00", "2027-06-30T23:00", "2027-07-01T00:00"):  # fmt: skip
            for r in due_reminders(FACILITY, [], (30, 7, 0), at(text), sent):
                if r.sensor == "S1":
                    days.append((text, r.days_before))
                sent.add(r.id)
        assert days == [
            ("2027-05-31T00:00", 30),
            ("2027-06-23T00:00", 7),
            ("2027-06-30T00:00", 0),
        ]

    def test_no_reminder_once_overdue_or_without_date(self) -> None:
        """An overdue sensor has its alarm, not reminders; one without a date has neither."""
        assert due_reminders(FACILITY, [], (30, 7, 0), at("2027-08-01T00:00"), set()) == []

    def test_a_record_moves_the_reminders(self) -> None:
        """After a record the new due date is what reminders count from."""
        records = [record("2028-06-30", "2027-06-01T00:00")]
        assert [
            r.sensor for r in due_reminders(FACILITY, records, (30,), at("2027-06-25T00:00"), set())
        ] == []

    def test_reminder_event_is_a_closed_calibration_notification(self) -> None:
        """A reminder reaches notifiers as a closed calibration alarm with its equipment."""
        reminder = next(r for r in due_reminders(FACILITY, [], (7,), at("2027-03-05T00:00"), set()))
        event = reminder_event(reminder, "s1", at("2027-03-05T00:00"))
        assert event.transition is Transition.REMINDER
        a = event.alarm
        assert (a.level, a.state, a.parameter, a.equipment, a.room) == (
            Level.CALIBRATION,
            AlarmState.CLOSED,
            "calibration",
            "FRZ-01",
            "R1",
        )
        assert a.detail == "calibration of S2 due in 5 days, on 2027-03-10"


class TestCalibrationReminders:
    def test_each_reminder_goes_out_once(self) -> None:
        """The service's periodic check hands each reminder to the notifiers once."""
        reminders = CalibrationReminders(FACILITY, CalibrationSettings().remind_days)
        first = reminders.due(at("2027-06-25T08:00"))
        assert [(e.transition, e.alarm.sensor) for e in first] == [(Transition.REMINDER, "S1")]
        assert reminders.due(at("2027-06-25T09:00")) == []
        assert [e.alarm.sensor for e in reminders.due(at("2027-06-30T00:00"))] == ["S1"]

    def test_default_remind_days(self) -> None:
        """[calibration] remind_days defaults to 30, 7 and 0 days."""
        assert CalibrationSettings().remind_days == [30, 7, 0]


class TestReminderJob:
    def test_check_submits_due_reminders_once_and_follows_reloads(self) -> None:
        """The hourly check hands reminders to submit once; a reload keeps what was sent."""
        submitted: list[list[str]] = []
        now = [at("2027-06-25T08:00")]
        job = ReminderJob(
            FACILITY,
            CalibrationSettings(),
            lambda events: submitted.append([e.alarm.sensor for e in events]),
            clock_ns=lambda: now[0],
        )
        job.check()
        job.replace_facility(FACILITY)
        job.check()
        assert submitted == [["S1"]]
        job.replace_records([record("2027-07-01", "2027-06-25T09:00")])
        now[0] = at("2027-07-01T00:00")
        job.check()
        assert submitted == [["S1"], ["S1"]]  # the new due date's own reminder, on the day
