"""The one signing path against a real journal: what it accepts, refuses and records."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from envmon.errors import EnvmonError
from envmon.journal.journal import Journal
from envmon.signing.rules import NS_PER_DAY, Act, Refusal, SecurityPolicy
from envmon.signing.signer import SignatureRefused, Signer
from tests.support.journal_samples import alarm, raised
from tests.support.signing import (
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
    j = Journal(tmp_path / "journal.sqlite", clock_ns=clock, os_user="tester")
    j.record_events([raised(alarm("A1"))])
    add_user(j, "olga", "operator")
    add_user(j, "jdoe", "engineer")
    clock.advance(1)
    yield j
    j.close()


def kinds(journal: Journal) -> list[str]:
    return [e.kind for e in journal.audit_entries()]


def refused(s: Signer, *args: object, **kw: object) -> SignatureRefused:
    with pytest.raises(SignatureRefused) as info:
        s.sign(attempt(*args, **kw))  # type: ignore[arg-type]
    return info.value


class TestSigning:
    def test_a_signature_is_recorded_with_its_request(self, journal: Journal, clock: Clock) -> None:
        """A right password records the signature and queues the request, chained."""
        signed = signer(journal, clock).sign(attempt("olga", Act.ACK, "A1"))
        sig = signed.signature
        assert (sig.user, sig.full_name, sig.role, sig.meaning) == (
            "olga",
            "Olga Example",
            "operator",
            "acknowledged",
        )
        assert (sig.signed_ns, sig.os_user, sig.client) == (clock(), "tester", "cli /dev/pts/9")
        assert kinds(journal)[-2:] == ["signature", "request"]
        [request] = journal.requests.pending()
        assert (request.id, request.act, request.subject) == (signed.request_id, "ack", "A1")
        assert request.signature == sig and request.signature_seq == signed.signature_seq
        assert journal.verify().ok

    def test_the_signature_carries_the_hash_of_the_alarm_record(
        self, journal: Journal, clock: Clock
    ) -> None:
        """The signature entry holds the SHA-256 of the alarm record as the journal holds it."""
        signer(journal, clock).sign(attempt("olga", Act.ACK, "A1"))
        with sqlite3.connect(journal.path) as db:
            record = db.execute("SELECT record FROM alarms WHERE id = 'A1'").fetchone()[0]
        entry = next(e for e in journal.audit_entries() if e.kind == "signature")
        assert entry.data["record_sha256"] == hashlib.sha256(record.encode()).hexdigest()

    def test_an_unknown_alarm_is_an_error_and_writes_nothing(
        self, journal: Journal, clock: Clock
    ) -> None:
        """Signing an alarm the journal lacks writes nothing at all."""
        before = kinds(journal)
        with pytest.raises(EnvmonError, match="no alarm 'nope'"):
            signer(journal, clock).sign(attempt("olga", Act.ACK, "nope"))
        assert kinds(journal) == before

    def test_without_queue_only_the_signature(self, journal: Journal, clock: Clock) -> None:
        """A signature that needs no service (a review) queues no request."""
        signed = signer(journal, clock).sign(attempt("jdoe", Act.ROOM_STATE, "FILL-A"), queue=False)
        assert signed.request_id is None and journal.requests.pending() == []

    def test_blank_comment_is_a_usage_error_before_anything(
        self, journal: Journal, clock: Clock
    ) -> None:
        """A blank comment is refused without recording an attempt."""
        before = kinds(journal)
        with pytest.raises(EnvmonError, match="--comment"):
            signer(journal, clock).sign(attempt("olga", Act.ACK, "A1", comment="  "))
        assert kinds(journal) == before


class TestRefusals:
    def test_wrong_password_changes_nothing_but_the_refusal(
        self, journal: Journal, clock: Clock
    ) -> None:
        """A wrong password: one line, a refused-attempt entry, nothing else."""
        before = kinds(journal)
        exc = refused(signer(journal, clock), "olga", Act.ACK, "A1", password="not the password")
        assert str(exc) == "signature refused: user name or password is wrong"
        assert exc.refusal is Refusal.WRONG_PASSWORD
        assert kinds(journal) == [*before, "signature_refused"]
        entry = journal.audit_entries()[-1]
        assert entry.os_user == "tester"
        assert entry.data == {
            "user": "olga",
            "attempted_ns": clock(),
            "client": "cli /dev/pts/9",
            "act": "ack",
            "subject": "A1",
            "reason": "wrong_password",
            "counts": True,
        }
        assert journal.requests.pending() == [] and journal.verify().ok

    def test_unknown_user_reads_like_a_wrong_password(self, journal: Journal, clock: Clock) -> None:
        """An unknown name gets the same line; the journal records the name given."""
        exc = refused(signer(journal, clock), "nobody", Act.ACK, "A1")
        assert str(exc) == "signature refused: user name or password is wrong"
        assert journal.audit_entries()[-1].data["user"] == "nobody"

    def test_disabled_user(self, journal: Journal, clock: Clock) -> None:
        """A disabled user is refused, saying so."""
        journal.people.disable("olga", "left the company")
        exc = refused(signer(journal, clock), "olga", Act.ACK, "A1")
        assert exc.refusal is Refusal.DISABLED and "disabled" in str(exc)

    def test_role_that_may_not(self, journal: Journal, clock: Clock) -> None:
        """An operator may not shelve: refused naming role and act; an engineer may."""
        exc = refused(signer(journal, clock), "olga", Act.SHELVE, "A1", params={"until_ns": 1})
        assert (
            str(exc)
            == "signature refused: user olga has role operator, which may not shelve alarms"
        )
        assert signer(journal, clock).sign(
            attempt("jdoe", Act.SHELVE, "A1", params={"until_ns": 1})
        )

    def test_five_failures_lock_out_even_the_right_password(
        self, journal: Journal, clock: Clock
    ) -> None:
        """After five wrong passwords, the right one is refused as locked out."""
        s = signer(journal, clock)
        for _ in range(5):
            refused(s, "olga", Act.ACK, "A1", password="wrong wrong wrong")
            clock.advance(1)
        exc = refused(s, "olga", Act.ACK, "A1")
        assert exc.refusal is Refusal.LOCKED_OUT and "locked out until" in str(exc)
        assert journal.audit_entries()[-1].data["counts"] is False

    def test_lockout_expires(self, journal: Journal, clock: Clock) -> None:
        """Once lockout_s has passed the right password signs again."""
        s = signer(journal, clock, SecurityPolicy(max_failed_attempts=2, lockout_s=60))
        refused(s, "olga", Act.ACK, "A1", password="wrong wrong wrong")
        refused(s, "olga", Act.ACK, "A1", password="wrong wrong wrong")
        clock.advance(59)
        assert refused(s, "olga", Act.ACK, "A1").refusal is Refusal.LOCKED_OUT
        clock.advance(1)
        assert s.sign(attempt("olga", Act.ACK, "A1")).signature.user == "olga"

    def test_a_signature_resets_the_count(self, journal: Journal, clock: Clock) -> None:
        """Failures before a successful signature no longer count toward lockout."""
        s = signer(journal, clock, SecurityPolicy(max_failed_attempts=2))
        refused(s, "olga", Act.ACK, "A1", password="wrong wrong wrong")
        clock.advance(1)
        s.sign(attempt("olga", Act.ACK, "A1"))
        clock.advance(1)
        refused(s, "olga", Act.ACK, "A1", password="wrong wrong wrong")
        clock.advance(1)
        assert s.sign(attempt("olga", Act.ACK, "A1"))

    def test_a_new_password_ends_a_lockout(self, journal: Journal, clock: Clock) -> None:
        """An administrator's `user passwd` lets a locked-out user sign again."""
        s = signer(journal, clock, SecurityPolicy(max_failed_attempts=1))
        refused(s, "olga", Act.ACK, "A1", password="wrong wrong wrong")
        clock.advance(1)
        add_password = "another horse battery"
        from envmon.signing.passwords import hash_password

        journal.people.set_password("olga", hash_password(add_password))
        clock.advance(1)
        assert s.sign(attempt("olga", Act.ACK, "A1", password=add_password))

    def test_unknown_names_lock_out_too(self, journal: Journal, clock: Clock) -> None:
        """Guessing names locks the name given, so refusals do not tell names apart."""
        s = signer(journal, clock, SecurityPolicy(max_failed_attempts=2))
        refused(s, "ghost", Act.ACK, "A1")
        refused(s, "ghost", Act.ACK, "A1")
        assert refused(s, "ghost", Act.ACK, "A1").refusal is Refusal.LOCKED_OUT

    def test_expired_password(self, journal: Journal, clock: Clock) -> None:
        """A password older than password_max_age_days is refused, saying how to renew it."""
        clock.advance(180 * NS_PER_DAY / 1e9)
        exc = refused(signer(journal, clock), "olga", Act.ACK, "A1")
        assert exc.refusal is Refusal.PASSWORD_EXPIRED and "envmon user passwd olga" in str(exc)
        never = SecurityPolicy(password_max_age_days=0)
        assert signer(journal, clock, never).sign(attempt("olga", Act.ACK, "A1"))

    def test_an_edited_role_is_refused(self, journal: Journal, clock: Clock) -> None:
        """A users row edited by hand (operator made engineer) is refused at signing."""
        with sqlite3.connect(journal.path) as db:
            db.execute("UPDATE users SET role = 'engineer' WHERE name = 'olga'")
        exc = refused(signer(journal, clock), "olga", Act.SHELVE, "A1", params={"until_ns": 1})
        assert exc.refusal is Refusal.USER_RECORD_ALTERED
        assert "envmon audit --verify" in str(exc)

    def test_a_replaced_hash_is_refused(self, journal: Journal, clock: Clock) -> None:
        """A password hash swapped by hand for one of a known password is refused."""
        from envmon.signing.passwords import hash_password

        with sqlite3.connect(journal.path) as db:
            db.execute(
                "UPDATE credentials SET password_hash = ? WHERE name = 'olga'",
                (hash_password("chosen by intruder"),),
            )
        exc = refused(signer(journal, clock), "olga", Act.ACK, "A1", password="chosen by intruder")
        assert exc.refusal is Refusal.USER_RECORD_ALTERED
