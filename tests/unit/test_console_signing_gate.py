"""The console's gate onto the one signing path, against a real journal."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from envmon.console.app import build_console, create_app
from envmon.console.gate import Act, Outcome, SignRequest
from envmon.console.signing_gate import SigningGate
from envmon.journal.journal import Journal
from envmon.journal.requests import OUTCOME_OK
from envmon.settings import Settings
from tests.support.console import console_settings, csrf_of
from tests.support.journal_samples import alarm, raised
from tests.support.signing import PASSWORD, Clock, add_user

pytestmark = pytest.mark.usefixtures("cheap")


@pytest.fixture
def clock() -> Clock:
    # After the users' passwords were set (by the journal's own clock, now).
    return Clock(time.time_ns() + 60 * 1_000_000_000)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = console_settings(tmp_path, "[security]\nmax_failed_attempts = 3\n")
    journal = Journal(settings.storage.journal_path)
    journal.record_events([raised(alarm("A1"))])
    add_user(journal, "olga", "operator")
    add_user(journal, "erik", "engineer")
    add_user(journal, "quinn", "qa")
    journal.close()
    return settings


@pytest.fixture
def gate(settings: Settings, clock: Clock) -> Iterator[SigningGate]:
    g = SigningGate(settings, wait_s=0.3, clock_ns=clock)
    yield g
    g.close()


def entries(settings: Settings) -> list:
    journal = Journal(settings.storage.journal_path, readonly=True)
    try:
        return journal.audit_entries()
    finally:
        journal.close()


def ack(comment: str = "door held open") -> SignRequest:
    return SignRequest(Act.ACK, "A1", "acknowledged", comment)


def finish_when_queued(settings: Settings, outcome: str) -> threading.Thread:
    """Play the service: finish the first pending request with ``outcome``."""

    def run() -> None:
        journal = Journal(settings.storage.journal_path)
        try:
            for _ in range(200):
                pending = journal.requests.pending()
                if pending:
                    journal.requests.finish(pending[0].id, outcome)
                    return
                threading.Event().wait(0.01)
        finally:
            journal.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


class TestSignIn:
    def test_right_password_signs_in_and_is_journaled(
        self, gate: SigningGate, settings: Settings
    ) -> None:
        """The identity comes back and a sign_in entry records who and from where."""
        result = gate.sign_in("olga", PASSWORD, "console 10.0.0.7")
        assert result.identity is not None
        assert (result.identity.user, result.identity.role) == ("olga", "operator")
        journal = Journal(settings.storage.journal_path, readonly=True)
        try:
            assert journal.verify().ok  # the audit chain knows sign_in entries
        finally:
            journal.close()
        last = entries(settings)[-1]
        assert (last.kind, last.subject, last.data["client"]) == (
            "sign_in",
            "olga",
            "console 10.0.0.7",
        )

    def test_wrong_password_is_refused_journaled_and_counts(
        self, gate: SigningGate, settings: Settings
    ) -> None:
        """Failed sign-ins count toward lockout like failed signatures."""
        for _ in range(3):
            result = gate.sign_in("olga", "wrong", "console 10.0.0.7")
            assert result.identity is None
            assert result.refusal == "sign-in refused: user name or password is wrong"
        refusals = [e for e in entries(settings) if e.kind == "signature_refused"]
        assert [(e.data["act"], e.data["counts"]) for e in refusals] == [("sign_in", True)] * 3
        locked = gate.sign_in("olga", PASSWORD, "console 10.0.0.7")
        assert locked.identity is None and "locked out" in locked.refusal
        assert gate.current("olga") is None

    def test_lockout_from_the_console_stops_signatures_too(self, gate: SigningGate) -> None:
        """Three wrong sign-ins lock the name for signing on the command line as well."""
        for _ in range(3):
            gate.sign_in("olga", "wrong", "console")
        result = gate.sign("olga", PASSWORD, ack(), "console")
        assert result.outcome is Outcome.DENIED
        assert "locked out" in result.message

    def test_disabled_user_is_no_longer_current(
        self, gate: SigningGate, settings: Settings
    ) -> None:
        """Disabling a user ends what the console may do for them."""
        journal = Journal(settings.storage.journal_path)
        journal.people.disable("olga", "left the company")
        journal.close()
        assert gate.current("olga") is None
        assert gate.sign_in("olga", PASSWORD, "console").identity is None


class TestRoles:
    def test_roles_follow_the_signing_rules(self, gate: SigningGate) -> None:
        """Operators acknowledge, engineers also shelve; reports are QA's alone."""
        assert gate.may("operator", Act.ACK) and not gate.may("operator", Act.SHELVE)
        assert gate.may("engineer", Act.SHELVE) and gate.may("engineer", Act.ROOM_STATE)
        assert gate.may("qa", Act.REPORT) and not gate.may("engineer", Act.REPORT)
        assert not gate.may("stranger", Act.ACK)

    def test_meanings_put_the_acts_default_first(self, gate: SigningGate) -> None:
        """The dialog preselects the act's default meaning from [signatures] meanings."""
        assert gate.meanings(Act.ACK)[0] == "acknowledged"
        assert gate.meanings(Act.SHELVE)[0] == "shelved"
        assert set(gate.meanings(Act.ACK)) == set(gate.meanings(Act.SHELVE))


class TestSign:
    def test_wrong_password_signs_nothing(self, gate: SigningGate, settings: Settings) -> None:
        """Denied: only the refusal is journaled, no signature, no request."""
        result = gate.sign("olga", "wrong", ack(), "console")
        assert result.outcome is Outcome.DENIED
        kinds = [e.kind for e in entries(settings)]
        assert kinds[-1] == "signature_refused"
        assert "signature" not in kinds and "request" not in kinds

    def test_applied_when_the_service_confirms(self, gate: SigningGate, settings: Settings) -> None:
        """Signed, queued, and the service's ok is reported with the signer's name."""
        service = finish_when_queued(settings, OUTCOME_OK)
        result = gate.sign("olga", PASSWORD, ack(), "console 10.0.0.7")
        service.join()
        assert result.outcome is Outcome.APPLIED
        assert "Alarm A1 acknowledged: signed by Olga Example (olga, operator)" in result.message
        signature = next(e for e in entries(settings) if e.kind == "signature")
        assert signature.data["client"] == "console 10.0.0.7"

    def test_refused_by_the_service(self, gate: SigningGate, settings: Settings) -> None:
        """A signed act the service refuses says so."""
        service = finish_when_queued(settings, "refused: alarm A1 is closed")
        result = gate.sign("olga", PASSWORD, ack(), "console")
        service.join()
        assert result.outcome is Outcome.REFUSED
        assert "alarm A1 is closed" in result.message

    def test_pending_without_the_service(self, gate: SigningGate) -> None:
        """No service running: signed and queued, and the page says so."""
        result = gate.sign("olga", PASSWORD, ack(), "console")
        assert result.outcome is Outcome.PENDING
        assert "queued" in result.message

    def test_shelve_until_counts_from_the_signature(
        self, gate: SigningGate, settings: Settings, clock: Clock
    ) -> None:
        """A shelving's end is the signing time plus the chosen duration."""
        request = SignRequest(Act.SHELVE, "A1", "shelved", "sensor swap", duration_s=900)
        assert gate.sign("erik", PASSWORD, request, "console").outcome is Outcome.PENDING
        queued = next(e for e in entries(settings) if e.kind == "request")
        assert queued.data["params"] == {"until_ns": clock() + 900 * 1_000_000_000}

    def test_role_refused_by_the_signer_too(self, gate: SigningGate) -> None:
        """Even past the console's own check, the signer refuses an operator's shelve."""
        request = SignRequest(Act.SHELVE, "A1", "shelved", "forged", duration_s=900)
        result = gate.sign("olga", PASSWORD, request, "console")
        assert result.outcome is Outcome.DENIED
        assert "role operator" in result.message


class TestConsoleWithTheRealGate:
    def test_sign_in_over_http_and_refusal_journaled(
        self, settings: Settings, gate: SigningGate
    ) -> None:
        """The sign-in page goes through the signing path: a failure is journaled."""
        console = build_console(settings, gate, tls=False)
        try:
            with TestClient(create_app(console), follow_redirects=False) as client:
                page = client.get("/signin")
                bad = client.post(
                    "/signin",
                    data={"user": "olga", "password": "nope", "csrf": csrf_of(page.text)},
                )
                assert bad.status_code == 403
                good = client.post(
                    "/signin",
                    data={"user": "olga", "password": PASSWORD, "csrf": csrf_of(bad.text)},
                )
                assert good.status_code == 303
                assert client.get("/alarms").status_code == 200
        finally:
            console.close()
        kinds = [e.kind for e in entries(settings)]
        assert kinds[-2:] == ["signature_refused", "sign_in"]
        text = "\n".join(str(e.data) for e in entries(settings))
        assert PASSWORD not in text and "nope" not in text
