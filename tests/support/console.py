"""The web console under test: settings over a temp journal, a fake signing gate,
and helpers to sign in and read the CSRF token from a page."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from starlette.testclient import TestClient

from envmon.alarms.events import AlarmEvent
from envmon.console.gate import (
    Act,
    Identity,
    Outcome,
    SignInResult,
    SignRequest,
    SignResult,
)
from envmon.facility import parse_facility
from envmon.journal.journal import Journal
from envmon.runtime.reload import Reloader, read_facility
from envmon.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_FACILITY = REPO / "config" / "facility.toml"

_ENGINEER = {Act.ACK, Act.SHELVE, Act.UNSHELVE, Act.OUT_OF_SERVICE, Act.IN_SERVICE, Act.ROOM_STATE}
ROLE_ACTS = {
    "operator": {Act.ACK},
    "engineer": _ENGINEER,
    "qa": {Act.ACK, Act.REPORT},
    "admin": _ENGINEER,
}
PASSWORD = "correct horse 42"


def console_settings(
    tmp: Path,
    extra: str = "",
    influx_url: str = "http://127.0.0.1:9",
    facility: Path = EXAMPLE_FACILITY,
) -> Settings:
    """Settings over a journal in ``tmp/state`` and a facility file (the example's)."""
    path = tmp / "envmon.toml"
    path.write_text(
        f"""
[influx]
url = "{influx_url}"
api = "v1"
database = "envmon"
timeout_s = 2

[storage]
state_dir = "{tmp / "state"}"

[facility]
file = "{facility}"
{extra}
"""
    )
    return load_settings(path)


def seed_journal(settings: Settings, events: Sequence[AlarmEvent] = ()) -> None:
    """Create the journal (as the service does) with these alarm events."""
    journal = Journal(settings.storage.journal_path)
    try:
        if events:
            journal.record_events(list(events))
    finally:
        journal.close()


def journal_start_load(settings: Settings) -> None:
    """Journal the facility file as the service does when it starts (unsigned)."""
    facility, text = read_facility(Path(settings.facility.file))
    journal = Journal(settings.storage.journal_path)
    try:
        Reloader(journal, facility, lambda _: None).record_facility(text)
    finally:
        journal.close()


def journal_sighup_load(settings: Settings) -> bool:
    """Load the facility file again as the service does on SIGHUP; False: the
    service refuses it (it does not validate) and journals nothing."""
    path = Path(settings.facility.file)
    journal = Journal(settings.storage.journal_path)
    try:
        last = journal.configs.last("facility")
        assert last is not None and last.text is not None, "no load with its text to reload"
        running = parse_facility(last.text, path)
        return Reloader(journal, running, lambda _: None).reload_unsigned()
    finally:
        journal.close()


@dataclass
class FakeGate:
    """A signing gate that keeps users and signatures in memory (no journal writes)."""

    users: dict[str, Identity] = field(
        default_factory=lambda: {
            name: Identity(name, f"{name.title()} Example", role)
            for name, role in (
                ("olga", "operator"),
                ("erik", "engineer"),
                ("quinn", "qa"),
                ("ada", "admin"),
            )
        }
    )
    disabled: set[str] = field(default_factory=set)
    failures: list[tuple[str, str]] = field(default_factory=list)
    signed: list[tuple[str, SignRequest, str]] = field(default_factory=list)
    outcome: Outcome = Outcome.APPLIED

    def sign_in(self, user: str, password: str, client: str) -> SignInResult:
        identity = self.current(user)
        if identity is None or password != PASSWORD:
            self.failures.append((user, client))
            return SignInResult(None, "sign-in refused: user name or password is wrong")
        return SignInResult(identity)

    def current(self, user: str) -> Identity | None:
        return None if user in self.disabled else self.users.get(user)

    def may(self, role: str, act: Act) -> bool:
        return act in ROLE_ACTS.get(role, set())

    def meanings(self, act: Act) -> tuple[str, ...]:
        first = {Act.ACK: "acknowledged", Act.SHELVE: "shelved"}.get(act, "approved")
        return (first, *(m for m in ("acknowledged", "reviewed", "approved") if m != first))

    def sign(self, user: str, password: str, request: SignRequest, client: str) -> SignResult:
        identity = self.current(user)
        if identity is None or password != PASSWORD:
            self.failures.append((user, client))
            return SignResult(Outcome.DENIED, "signature refused: user name or password is wrong")
        if not self.may(identity.role, request.act):
            return SignResult(Outcome.DENIED, f"signature refused: role {identity.role}")
        self.signed.append((user, request, client))
        return SignResult(self.outcome, f"{request.act.value} {request.target}: {self.outcome}")


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, user: str, password: str = PASSWORD) -> None:
    """Sign ``user`` in through the form, as a browser does; lands on the alarm list."""
    page = client.get("/signin")
    response = client.post(
        "/signin", data={"user": user, "password": password, "csrf": csrf_of(page.text)}
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/alarms"
