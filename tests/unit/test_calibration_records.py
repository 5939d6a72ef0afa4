"""Signed calibration records: the act's rule, the record's checks, the journal round
trip and its verification, the state they give, the worker handing them on, and
reminders that survive a restart."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from envmon.alarms.commands import ApplySigned
from envmon.alarms.engine import AlarmEngine
from envmon.alarms.events import AlarmEvent
from envmon.alarms.worker import AlarmWorker
from envmon.calibration import CalibrationRecord, CalibrationSettings, state_of
from envmon.calibration.job import ReminderJob
from envmon.calibration.records import (
    from_params,
    parse_due,
    record_params,
    record_problem,
    utc_day,
)
from envmon.errors import EnvmonError
from envmon.facility import parse_facility
from envmon.journal.audit_types import canonical_json
from envmon.journal.journal import Journal, JournalError
from envmon.readings import NS_PER_S, datetime_to_ns, isoformat_ns
from envmon.runtime.lifecycle import Deadline
from envmon.signing.rules import Act, Refusal, Role, may, refusal_message
from envmon.signing.signer import SignatureRefused
from tests.support.clock import FakeClock
from tests.support.signing import Clock, add_user, apply_pending, attempt, signer
from tests.support.wait import wait_for

DAY = 86_400 * NS_PER_S
FACILITY = parse_facility("""
site = "site1"
[[rooms]]
id = "PREP-C"
grade = "C"
[[sensors]]
id = "TH-1"
room = "PREP-C"
kind = "climate"
calibration_due = 2026-12-01
certificate = "CAL-OLD"
[[sensors]]
id = "DP-1"
room = "PREP-C"
kind = "pressure"
""")
T0 = datetime_to_ns(datetime(2026, 11, 20, 9, 30, tzinfo=UTC))
"""2026-11-20T09:30Z."""


def day(text: str) -> date:
    return date.fromisoformat(text)


class TestCalibrationAct:
    @pytest.mark.parametrize(
        ("role", "allowed"),
        [(Role.OPERATOR, False), (Role.ENGINEER, True), (Role.QA, False), (Role.ADMIN, True)],
    )
    def test_engineers_and_admins_record_calibrations(self, role: Role, allowed: bool) -> None:
        """Only the engineer role (and admin, an engineer who manages users) may record."""
        assert may(role, Act.CALIBRATION) is allowed

    def test_refusal_names_the_act(self) -> None:
        """An operator's attempt is refused with the act in words."""
        message = refusal_message(Refusal.ROLE, "olga", role="operator", act=Act.CALIBRATION)
        assert message == (
            "signature refused: user olga has role operator, which may not record calibrations"
        )

    def test_default_meaning_is_approved(self) -> None:
        """A calibration record means "approved" unless --meaning says otherwise."""
        assert Act.CALIBRATION.default_meaning == "approved"


class TestRecordChecks:
    SENSORS = frozenset({"TH-1"})

    def test_a_good_record_passes(self) -> None:
        """A known sensor, a future due date and a certificate: no problem."""
        assert record_problem("TH-1", day("2027-11-20"), "CAL-1", self.SENSORS, T0) is None

    def test_due_today_is_allowed_yesterday_is_not(self) -> None:
        """The due date may be today (valid through the day), not before (UTC)."""
        assert utc_day(T0) == day("2026-11-20")
        assert record_problem("TH-1", day("2026-11-20"), "CAL-1", self.SENSORS, T0) is None
        problem = record_problem("TH-1", day("2026-11-19"), "CAL-1", self.SENSORS, T0)
        assert problem == (
            "due date 2026-11-19 is in the past (today is 2026-11-20 UTC): "
            "a calibration record gives the next due date"
        )

    def test_unknown_sensor(self) -> None:
        """A sensor the facility lacks is named."""
        problem = record_problem("NOPE", day("2027-01-01"), "C", self.SENSORS, T0)
        assert problem == "no sensor 'NOPE' in the facility"

    @pytest.mark.parametrize(
        ("certificate", "words"),
        [("", "is empty"), ("   ", "is empty"), ("A\nB", "control characters"),
         ("X" * 201, "longer than 200")],
    )  # fmt: skip
    def test_bad_certificates(self, certificate: str, words: str) -> None:
        """An empty, multi-line or overlong certificate reference is refused."""
        problem = record_problem("TH-1", day("2027-01-01"), certificate, self.SENSORS, T0)
        assert problem is not None and words in problem

    def test_parse_due(self) -> None:
        """Due dates are YYYY-MM-DD; anything else is one line naming the option."""
        assert parse_due(" 2027-06-30 ") == day("2027-06-30")
        with pytest.raises(EnvmonError, match=r"--due '30/06/2027': not a date \(write it"):
            parse_due("30/06/2027")

    def test_params_round_trip(self) -> None:
        """The params signed make the same record back, with who signed."""
        params = record_params(day("2027-06-30"), " CAL-9 ")
        assert params == {"due": "2027-06-30", "certificate": "CAL-9"}
        record = from_params("TH-1", params, T0, "jdoe")
        assert record == CalibrationRecord("TH-1", day("2027-06-30"), "CAL-9", T0, "jdoe")
        with pytest.raises(EnvmonError, match="lacks its due date or certificate"):
            from_params("TH-1", {"due": "2027-06-30"}, T0)


class TestStateWithRecords:
    def test_the_record_in_force_and_who_signed_it(self) -> None:
        """From its signing on, the state names the record and its signer; before, the file."""
        record = CalibrationRecord("TH-1", day("2027-12-01"), "CAL-NEW", T0, "jdoe")
        sensor = FACILITY.sensors["TH-1"]
        before = state_of(sensor, [record], T0 - 1)
        assert (before.due, before.record, before.source) == (
            day("2026-12-01"), None, "facility file"
        )  # fmt: skip
        after = state_of(sensor, [record], T0)
        assert (after.due, after.certificate, after.record) == (
            day("2027-12-01"), "CAL-NEW", record
        )  # fmt: skip
        assert after.source == f"record signed {isoformat_ns(T0)} by jdoe"

    def test_a_record_ends_an_overdue_period(self) -> None:
        """Overdue after the file's date; in date again from the record's signing."""
        sensor = FACILITY.sensors["TH-1"]
        late = T0 + 30 * DAY
        record = CalibrationRecord("TH-1", day("2027-12-01"), "CAL-NEW", late)
        assert state_of(sensor, [record], late - 1).status.value == "overdue"
        assert state_of(sensor, [record], late).status.value == "in_date"


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def journal(tmp_path: Path, clock: Clock, cheap: None) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite", clock_ns=clock)
    add_user(j, "jdoe", "engineer")
    add_user(j, "olga", "operator")
    yield j
    j.close()


def sign_record(
    journal: Journal, clock: Clock, sensor: str, due: str, certificate: str, user: str = "jdoe"
) -> int:
    params = record_params(day(due), certificate)
    signed = signer(journal, clock).sign(attempt(user, Act.CALIBRATION, sensor, params=params))
    assert signed.request_id is not None
    return signed.request_id


class TestJournalRecords:
    def test_applied_record_round_trips_and_verifies(self, journal: Journal, clock: Clock) -> None:
        """A signed record applied by the service comes back with its signer; verify is clean."""
        request_id = sign_record(journal, clock, "TH-1", "2027-11-20", "CAL-2026-0099")
        assert journal.calibration.records() == []
        [waiting] = journal.calibration.signed(pending=True)
        assert (waiting.record.sensor, waiting.request_id) == ("TH-1", request_id)
        assert apply_pending(journal, AlarmEngine(FACILITY, start_ns=0), clock()) == 1
        assert journal.requests.outcome(request_id) == "ok"
        assert journal.calibration.records() == [
            CalibrationRecord("TH-1", day("2027-11-20"), "CAL-2026-0099", T0, "jdoe")
        ]
        [signed] = journal.calibration.signed()
        assert (signed.full_name, signed.request_id) == ("Jdoe Example", request_id)
        assert journal.calibration.signed(pending=True) == []
        result = journal.verify()
        assert result.ok, result.problems

    def test_the_signature_binds_sensor_due_date_and_certificate(
        self, journal: Journal, clock: Clock
    ) -> None:
        """The signature's record_sha256 is the hash of act, sensor and params."""
        sign_record(journal, clock, "TH-1", "2027-11-20", "CAL-7")
        [row] = journal._query("SELECT record_sha256 FROM signatures WHERE act = 'calibration'")
        signed = {
            "act": "calibration",
            "subject": "TH-1",
            "params": {"due": "2027-11-20", "certificate": "CAL-7"},
        }
        assert row[0] == hashlib.sha256(canonical_json(signed).encode()).hexdigest()

    def test_an_altered_record_is_detected(
        self, journal: Journal, clock: Clock, tmp_path: Path
    ) -> None:
        """Changing a recorded due date in the derived table is named by verify."""
        request_id = sign_record(journal, clock, "TH-1", "2027-11-20", "CAL-7")
        apply_pending(journal, AlarmEngine(FACILITY, start_ns=0), clock())
        with sqlite3.connect(tmp_path / "journal.sqlite") as db:
            db.execute(
                "UPDATE requests SET params = ? WHERE id = ?",
                ('{"certificate":"CAL-7","due":"2030-01-01"}', request_id),
            )
        result = journal.verify()
        assert not result.ok
        assert f"requests id={request_id}: params differ from the audit trail" in "".join(
            result.problems
        )

    @pytest.mark.parametrize(
        ("sensor", "due", "certificate", "days_later", "why"),
        [
            ("NOPE", "2027-11-20", "CAL-7", 0, "refused: no sensor 'NOPE' in the facility"),
            ("TH-1", "2026-11-20", "CAL-7", 1, "refused: due date 2026-11-20 is in the past"),
            ("TH-1", "2027-11-20", " ", 0, "refused: the certificate reference is empty"),
        ],
    )
    def test_the_service_refuses_what_it_cannot_apply(
        self,
        journal: Journal,
        clock: Clock,
        sensor: str,
        due: str,
        certificate: str,
        days_later: int,
        why: str,
    ) -> None:
        """Unknown sensor, a due date past by the time it applies, an empty certificate:
        refused with the reason, and no record counts."""
        request_id = sign_record(journal, clock, sensor, due, certificate)
        engine = AlarmEngine(FACILITY, start_ns=0)
        apply_pending(journal, engine, clock() + days_later * DAY)
        outcome = journal.requests.outcome(request_id)
        assert outcome is not None and outcome.startswith(why)
        assert journal.calibration.records() == []

    def test_an_operator_records_nothing(self, journal: Journal, clock: Clock) -> None:
        """An operator's record is refused at signing: no request, only the refusal."""
        with pytest.raises(SignatureRefused, match="may not record calibrations"):
            sign_record(journal, clock, "TH-1", "2027-11-20", "CAL-7", user="olga")
        assert journal.calibration.signed(pending=True) == []
        assert journal.audit_entries(1)[0].kind == "signature_refused"

    def test_a_malformed_record_names_its_request(
        self, journal: Journal, clock: Clock, tmp_path: Path
    ) -> None:
        """A request whose params lost the due date is an error naming the request."""
        request_id = sign_record(journal, clock, "TH-1", "2027-11-20", "CAL-7")
        apply_pending(journal, AlarmEngine(FACILITY, start_ns=0), clock())
        with sqlite3.connect(tmp_path / "journal.sqlite") as db:
            db.execute("UPDATE requests SET params = '{}' WHERE id = ?", (request_id,))
        with pytest.raises(JournalError, match=f"calibration request {request_id}: .*verify"):
            journal.calibration.records()


class TestWorkerHandsRecordsOn:
    def test_an_applied_record_reaches_ingest_and_reminders(
        self, tmp_path: Path, cheap: None
    ) -> None:
        """The worker applies a calibration request and hands every record on."""
        clock = FakeClock(wall_ns=T0)
        journal = Journal(tmp_path / "journal.sqlite", clock_ns=clock.wall_ns)
        add_user(journal, "jdoe", "engineer")
        handed: list[Sequence[CalibrationRecord]] = []
        worker = AlarmWorker(
            AlarmEngine(FACILITY, start_ns=T0),
            journal,
            _NoOutputs(),
            _NoOutputs(),
            on_judged=lambda seq: None,
            escalate_after_s=60.0,
            clock=clock,
            on_calibration=handed.append,
        )
        worker.start()
        try:
            request_id = sign_record(journal, Clock(T0), "TH-1", "2027-11-20", "CAL-7")
            for request in journal.requests.pending():
                worker.submit(ApplySigned(request))
            assert wait_for(lambda: handed, 5, "the records handed on")
            assert journal.requests.outcome(request_id) == "ok"
            assert [r.certificate for r in handed[-1]] == ["CAL-7"]
        finally:
            worker.stop(Deadline(clock.monotonic() + 30, clock))
            journal.close()


class _NoOutputs:
    def send(self, events: Sequence[AlarmEvent]) -> None:
        pass

    def submit_lines(self, lines: Sequence[str]) -> None:
        pass


REMINDING = parse_facility("""
site = "site1"
[[rooms]]
id = "PREP-C"
grade = "C"
[[sensors]]
id = "DP-2"
room = "PREP-C"
kind = "pressure"
calibration_due = 2026-11-23
""")


class TestRemindersSurviveARestart:
    def job(self, journal: Journal, now: list[int], sent: list[list[str]]) -> ReminderJob:
        """The reminder job as the service builds it from its journal."""
        return ReminderJob(
            REMINDING,
            CalibrationSettings(),
            lambda events: sent.append([e.alarm.detail for e in events]),
            records=journal.calibration.records(),
            already=journal.calibration.reminders_sent(),
            journal=journal.calibration.record_reminders,
            clock_ns=lambda: now[0],
        )

    def test_a_restart_does_not_send_the_same_reminder_again(self, tmp_path: Path) -> None:
        """The 7-day reminder is journaled when sent; after a restart it is not sent again,
        and the next one (the due day's) still is."""
        path = tmp_path / "journal.sqlite"
        now = [T0]
        sent: list[list[str]] = []
        first = Journal(path, clock_ns=lambda: now[0])
        self.job(first, now, sent).check()
        first.close()
        assert sent == [["calibration of DP-2 due in 3 days, on 2026-11-23"]]

        again = Journal(path, clock_ns=lambda: now[0])
        restarted = self.job(again, now, sent)
        assert restarted.check() == []
        now[0] = datetime_to_ns(datetime(2026, 11, 23, 0, 5, tzinfo=UTC))
        restarted.check()
        assert sent[1:] == [["calibration of DP-2 due today, on 2026-11-23"]]
        [entry, *_] = [e for e in again.audit_entries() if e.kind == "calibration_reminder"]
        assert (entry.subject, entry.data["due"], entry.data["days_before"]) == (
            "DP-2", "2026-11-23", 7
        )  # fmt: skip
        result = again.verify()
        assert result.ok, result.problems
        again.close()

    def test_a_reminder_the_journal_refuses_is_still_sent(self) -> None:
        """A journal error costs the record of a reminder, never the reminder itself."""

        def refuse(reminders: Sequence[object], now_ns: int) -> None:
            raise JournalError("journal.sqlite: disk I/O error")

        sent: list[int] = []
        job = ReminderJob(
            REMINDING,
            CalibrationSettings(),
            lambda events: sent.append(len(events)),
            journal=refuse,
            clock_ns=lambda: T0,
        )
        job.check()
        job.check()
        assert sent == [1]
