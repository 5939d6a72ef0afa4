"""The journal's people and signed requests: users, signatures, refusals, the queue,
service periods, tamper detection, and migration from schema 1."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from envmon.errors import EnvmonError
from envmon.journal.journal import Journal, JournalError
from envmon.journal.requests import OUTCOME_OK
from envmon.signing.rules import Act
from tests.support.journal_samples import alarm, raised
from tests.support.journal_v1 import write_v1_journal
from tests.support.signing import (
    SECRETS_LEAK_MARKERS,
    Clock,
    add_user,
    attempt,
    signer,
)

pytestmark = pytest.mark.usefixtures("cheap")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def journal(tmp_path: Path, clock: Clock) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite", clock_ns=clock, os_user="root")
    j.record_events([raised(alarm("A1"))])
    add_user(j, "jdoe", "engineer")
    clock.advance(1)
    yield j
    j.close()


def tamper(journal: Journal, sql: str, *params: object) -> None:
    with sqlite3.connect(journal.path) as db:
        db.execute(sql, params)


class TestUsers:
    def test_added_user_reads_back_without_a_hash(self, journal: Journal, clock: Clock) -> None:
        """A new user is journaled with the OS user; the entry has no hash or salt."""
        user = journal.people.get("jdoe")
        assert user is not None
        assert (user.full_name, user.role, user.disabled) == ("Jdoe Example", "engineer", False)
        entry = next(e for e in journal.audit_entries() if e.kind == "user_added")
        assert entry.os_user == "root"
        text = json.dumps(entry.data)
        assert not any(marker in text for marker in SECRETS_LEAK_MARKERS)
        assert len(entry.data["credential_sha256"]) == 64

    def test_names_are_never_reused(self, journal: Journal) -> None:
        """Adding a name that exists, even disabled, is refused."""
        journal.people.disable("jdoe", "left")
        with pytest.raises(EnvmonError, match="never reused"):
            add_user(journal, "jdoe", "operator")

    def test_password_change_and_disable_are_entries(self, journal: Journal, clock: Clock) -> None:
        """Changing a password and disabling a user each append an entry; verify passes."""
        from envmon.signing.passwords import hash_password

        journal.people.set_password("jdoe", hash_password("a brand new secret"))
        journal.people.disable("jdoe", "left the company")
        user = journal.people.get("jdoe")
        assert user is not None and user.disabled and user.disabled_reason == "left the company"
        assert [e.kind for e in journal.audit_entries()][-2:] == ["user_password", "user_disabled"]
        assert journal.verify().ok

    def test_unknown_user_commands_name_the_user(self, journal: Journal) -> None:
        """Changing an unknown user is one line naming them."""
        with pytest.raises(EnvmonError, match="no user ghost"):
            journal.people.disable("ghost", "x")


class TestVerify:
    def test_a_signed_journal_verifies(self, journal: Journal, clock: Clock) -> None:
        """Users, signatures, refusals, requests and outcomes verify when untouched."""
        s = signer(journal, clock)
        s.sign(attempt("jdoe", Act.ACK, "A1"))
        with pytest.raises(EnvmonError):
            s.sign(attempt("jdoe", Act.ACK, "A1", password="wrong wrong wrong"))
        journal.requests.finish(1, OUTCOME_OK)
        assert journal.verify().ok

    def test_a_forged_signature_row_is_detected(self, journal: Journal, clock: Clock) -> None:
        """A signature row added by hand is not in the trail: verify names it."""
        signer(journal, clock).sign(attempt("jdoe", Act.ACK, "A1"))
        tamper(
            journal,
            "INSERT INTO signatures SELECT seq + 100, 'boss', 'The Boss', role, meaning, "
            "comment, signed_ns, os_user, client, act, subject, record_sha256 FROM signatures",
        )
        result = journal.verify()
        assert not result.ok
        assert any("signatures seq=" in p and "row added" in p for p in result.problems)

    def test_an_edited_signature_row_is_detected(self, journal: Journal, clock: Clock) -> None:
        """A signature's meaning changed by hand differs from the trail."""
        signer(journal, clock).sign(attempt("jdoe", Act.ACK, "A1"))
        tamper(journal, "UPDATE signatures SET meaning = 'approved'")
        assert any("meaning differ" in p for p in journal.verify().problems)

    def test_an_edited_user_row_is_detected(self, journal: Journal) -> None:
        """A role raised by hand in the users table is detected."""
        tamper(journal, "UPDATE users SET role = 'admin' WHERE name = 'jdoe'")
        problems = journal.verify().problems
        assert problems == ["users name=jdoe: role differ from the audit trail (row altered)"]

    def test_a_replaced_password_hash_is_detected(self, journal: Journal) -> None:
        """A hash swapped in the credentials table is detected by its digest."""
        from envmon.signing.passwords import hash_password

        tamper(journal, "UPDATE credentials SET password_hash = ?", hash_password("intruder pw 1"))
        assert journal.verify().problems == [
            "credentials name=jdoe: the password hash differs from the audit trail (hash replaced)"
        ]

    def test_a_deleted_failed_attempt_is_detected(self, journal: Journal, clock: Clock) -> None:
        """Deleting a refused attempt (to dodge a lockout) is detected."""
        with pytest.raises(EnvmonError):
            signer(journal, clock).sign(attempt("jdoe", Act.ACK, "A1", password="nope nope nope"))
        tamper(journal, "DELETE FROM failed_signatures")
        assert any(
            "failed_signatures" in p and "row deleted" in p for p in journal.verify().problems
        )


class TestRequests:
    def test_finish_records_the_outcome(self, journal: Journal, clock: Clock) -> None:
        """A finished request is no longer pending and has its outcome."""
        signed = signer(journal, clock).sign(attempt("jdoe", Act.ACK, "A1"))
        assert signed.request_id is not None
        assert journal.requests.outcome(signed.request_id) is None
        journal.requests.finish(signed.request_id, "refused: already acknowledged")
        assert journal.requests.pending() == []
        assert journal.requests.outcome(signed.request_id) == "refused: already acknowledged"
        with pytest.raises(JournalError, match="already finished"):
            journal.requests.finish(signed.request_id, OUTCOME_OK)


class TestServicePeriods:
    def sign_service(self, journal: Journal, clock: Clock, act: Act, **params: object) -> int:
        signed = signer(journal, clock).sign(attempt("jdoe", act, "DP-1", params=params))
        assert signed.request_id is not None
        journal.requests.finish(signed.request_id, OUTCOME_OK)
        return signed.request_id

    def test_out_of_service_then_in_service(self, journal: Journal, clock: Clock) -> None:
        """An applied out-of-service opens a period; an applied in-service closes it."""
        start = clock()
        self.sign_service(journal, clock, Act.OUT_OF_SERVICE, until_ns=None)
        clock.advance(600)
        [period] = journal.requests.service_periods()
        assert (period.sensor, period.from_ns, period.end_ns) == ("DP-1", start, None)
        assert period.signature.meaning == "out of service"
        self.sign_service(journal, clock, Act.IN_SERVICE)
        [period] = journal.requests.service_periods()
        assert period.returned_ns == clock() and period.return_signature is not None
        states = journal.requests.service_states()
        assert states.out_of_service_s("DP-1", start - 100 * 10**9, clock() + 10**9) == 600.0
        assert journal.verify().ok

    def test_until_ends_the_period_by_itself(self, journal: Journal, clock: Clock) -> None:
        """With --until the period ends then; a later in-service finds none open."""
        until = clock() + 60 * 10**9
        self.sign_service(journal, clock, Act.OUT_OF_SERVICE, until_ns=until)
        states = journal.requests.service_states()
        assert states.out_of_service("DP-1", until - 1) and not states.out_of_service("DP-1", until)
        clock.advance(120)
        request_id = self.sign_service(journal, clock, Act.IN_SERVICE)
        assert journal.requests.outcome(request_id) == "refused: sensor DP-1 is in service"

    def test_window_query(self, journal: Journal, clock: Clock) -> None:
        """Periods are found by overlap with a window and by sensor."""
        start = clock()
        self.sign_service(journal, clock, Act.OUT_OF_SERVICE, until_ns=start + 60 * 10**9)
        assert journal.requests.service_periods(start + 61 * 10**9, start + 99 * 10**9) == []
        assert len(journal.requests.service_periods(start + 59 * 10**9, start + 99 * 10**9)) == 1
        assert journal.requests.service_periods(sensors=["OTHER"]) == []


class TestMigration:
    def test_schema_1_journal_is_migrated_and_verifies(self, tmp_path: Path) -> None:
        """A schema 1 journal opens at schema 4: new tables built, old acks folded, chain intact."""
        path = tmp_path / "journal.sqlite"
        record = write_v1_journal(path)
        journal = Journal(path, os_user="upgrader")
        try:
            assert journal.verify().ok
            [a] = journal.alarms()
            assert a.id == "A1" and a.signatures == ()
            entries = journal.audit_entries()
            assert [e.kind for e in entries][-4:] == [
                "schema_migrated",
                "request_outcome",
                "schema_migrated",
                "schema_migrated",
            ]
            assert [e.data["to"] for e in entries if e.kind == "schema_migrated"] == [2, 3, 4]
            assert entries[-4].os_user == "upgrader"
            assert journal.requests.outcome(1) == "alarm A1 was already acknowledged"
            assert "unsigned" in (journal.requests.outcome(2) or "")
            assert journal.requests.pending() == []
            with sqlite3.connect(path) as db:
                assert db.execute("PRAGMA user_version").fetchone()[0] == 4
                tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
                stored = db.execute("SELECT record FROM alarms").fetchone()[0]
            assert (
                "ack_requests" not in tables
                and {"users", "signatures", "batches", "transients"} <= tables
            )
            assert json.loads(stored) == record
        finally:
            journal.close()

    def test_a_migrated_journal_opens_again_unchanged(self, tmp_path: Path) -> None:
        """Opening a migrated journal again migrates nothing more."""
        path = tmp_path / "journal.sqlite"
        write_v1_journal(path)
        Journal(path).close()
        again = Journal(path)
        try:
            assert len(again.audit_entries()) == 8 and again.verify().ok
        finally:
            again.close()

    def test_read_only_open_of_schema_1_says_what_to_do(self, tmp_path: Path) -> None:
        """A read-only command on an unmigrated journal says the service migrates it."""
        path = tmp_path / "journal.sqlite"
        write_v1_journal(path)
        with pytest.raises(JournalError, match="predates this envmon"):
            Journal(path, readonly=True)
