"""What signing tests share: a stepping clock, users, and a stand-in for the
service's application of signed requests (what the alarm worker does)."""

from __future__ import annotations

import threading
from pathlib import Path

from envmon.alarms.engine import AlarmEngine
from envmon.errors import EnvmonError
from envmon.facility import Facility, parse_facility
from envmon.journal.journal import Journal
from envmon.journal.requests import OUTCOME_OK
from envmon.readings import Kind, Reading
from envmon.signing.apply import apply_request
from envmon.signing.passwords import hash_password
from envmon.signing.rules import SecurityPolicy
from envmon.signing.signature import Signature
from envmon.signing.signer import SignatureAttempt, Signer
from tests.support.journal_samples import T0

S = 1_000_000_000
PASSWORD = "correct horse battery"
SECRETS_LEAK_MARKERS = ("$argon2", "password_hash")
"""Substrings that must never appear in any output: argon2 hashes carry their salt."""


class Clock:
    """A wall clock that tests step by hand."""

    def __init__(self, now_ns: int = T0) -> None:
        self.now_ns = now_ns

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, seconds: float) -> None:
        self.now_ns += round(seconds * S)


def add_user(journal: Journal, name: str, role: str, password: str = PASSWORD) -> None:
    journal.people.add(name, name.title() + " Example", role, hash_password(password))


def signer(journal: Journal, clock: Clock, policy: SecurityPolicy | None = None) -> Signer:
    from envmon.signing.rules import DEFAULT_MEANINGS

    return Signer(journal, policy or SecurityPolicy(), DEFAULT_MEANINGS, clock_ns=clock)


def attempt(
    user: str, act: object, subject: str, password: str = PASSWORD, **kw: object
) -> SignatureAttempt:
    return SignatureAttempt(
        user=user,
        password=password,
        act=act,  # type: ignore[arg-type]
        subject=subject,
        comment=kw.pop("comment", "checked on the floor"),  # type: ignore[arg-type]
        os_user="tester",
        client="cli /dev/pts/9",
        **kw,  # type: ignore[arg-type]
    )


def apply_pending(journal: Journal, engine: AlarmEngine, now_ns: int) -> int:
    """Apply every pending request the way the alarm worker does; returns how many."""
    done = 0
    for request in journal.requests.pending():
        try:
            applied = apply_request(engine, request, now_ns, journal.requests.service_states())
        except EnvmonError as exc:  # the outcome is the refusal, as in the worker
            journal.requests.finish(request.id, str(exc))
        else:
            events = list(applied.events)
            if applied.room_state is not None:
                events += engine.on_room_state(applied.room_state)
                journal.record_room_state(applied.room_state)
            journal.record_events(events)
            journal.requests.finish(request.id, OUTCOME_OK)
            if applied.service_changed:
                engine.set_service_states(journal.requests.service_states())
        done += 1
    return done


class ServiceStandIn:
    """A thread applying signed requests from the journal at ``path`` every 20 ms,
    with its own connection (another process in real life)."""

    def __init__(self, path: Path, engine: AlarmEngine) -> None:
        self._path = path
        self._engine = engine
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ServiceStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        import time

        journal = Journal(self._path, os_user="envmon")
        try:
            while not self._stop.wait(0.02):
                apply_pending(journal, self._engine, time.time_ns())
        finally:
            journal.close()


FACILITY = """
site = "site1"

[[rooms]]
id = "FILL-A"
grade = "A"

[rooms.limits.diff_pressure]
alert_low = 12.0
action_low = 10.0

[[rooms]]
id = "BG-B"
grade = "B"
default_state = "at_rest"

[[sensors]]
id = "DP-FILL-1"
room = "FILL-A"
kind = "pressure"
interval_s = 10
stale_after_s = 30
"""


def facility() -> Facility:
    """One Grade A room with a pressure sensor (action below 10 Pa, no delay), one Grade B."""
    return parse_facility(FACILITY)


def pressure(ts_ns: int, pa: float) -> Reading:
    return Reading(ts_ns, "site1", "FILL-A", "A", "DP-FILL-1", Kind.PRESSURE, {"diff_pressure": pa})


def signature(user: str = "jdoe", signed_ns: int = T0, meaning: str = "acknowledged") -> Signature:
    return Signature(
        user=user,
        full_name="Jane Doe",
        role="engineer",
        meaning=meaning,
        comment="door held open for a delivery",
        signed_ns=signed_ns,
        os_user="jdoe_os",
        client="cli /dev/pts/1",
    )
