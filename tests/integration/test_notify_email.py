"""Email notifications reach a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr

from envmon.alarms.events import AlarmEvent, Transition
from envmon.facility import BUILTIN_PARAMETERS, ParameterInfo, parse_facility
from envmon.notify import Dispatcher, NotifyError, build_notifiers
from envmon.notify.config import EmailSettings, NotifySettings
from envmon.notify.email import EmailNotifier
from tests.support.console import EXAMPLE_FACILITY
from tests.support.journal_samples import T0, S, alarm, cleared, raised
from tests.support.servers import free_port

pytestmark = pytest.mark.integration


def builtin_only() -> Mapping[str, ParameterInfo]:
    """The parameters of a facility that declares none of its own."""
    return BUILTIN_PARAMETERS


@dataclass
class Inbox:
    """What the SMTP server received: one (envelope recipients, message) per mail."""

    port: int
    mails: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.mails.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"s3cret"
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox(port=free_port())
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=box.port,
        authenticator=box.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield box
    controller.stop()


def email_settings(inbox: Inbox, **kw: Any) -> EmailSettings:
    return EmailSettings(
        smtp_port=inbox.port,
        sender="envmon@cleanroom.example",
        recipients=["qa@example.com", "eng@example.com"],
        escalation_recipients=["head-qa@example.com"],
        timeout_s=5,
        **kw,
    )


class TestEmailOverSmtp:
    def test_raise_is_mailed_to_the_recipients(self, inbox: Inbox) -> None:
        """A raised alarm arrives as one mail with the readable subject and body."""
        EmailNotifier(email_settings(inbox), builtin_only).send(raised(alarm("A1", value=35.0)))
        ((rcpts, msg),) = inbox.mails
        assert rcpts == ["qa@example.com", "eng@example.com"]
        assert msg["Subject"] == "[envmon] ACTION raised FILL-A particles_5_0um 35 > 29 counts/m³"
        assert msg["From"] == "envmon@cleanroom.example"
        content = msg.get_content()
        assert "Sensor:      PC-FILL-1" in content
        assert "envmon ack A1" in content

    def test_login_when_configured(self, inbox: Inbox) -> None:
        """With a username the notifier logs in before sending."""
        settings = email_settings(inbox, username="envmon", password=SecretStr("s3cret"))
        EmailNotifier(settings, builtin_only).send(raised(alarm("A1")))
        assert inbox.logins == ["envmon"]
        assert len(inbox.mails) == 1

    def test_refused_login_is_a_notify_error_without_the_password(self, inbox: Inbox) -> None:
        """A wrong password is one NotifyError that does not contain the password."""
        settings = email_settings(inbox, username="envmon", password=SecretStr("wrong-pw"))
        with pytest.raises(NotifyError) as info:
            EmailNotifier(settings, builtin_only).send(raised(alarm("A1")))
        assert "login as envmon refused" in str(info.value)
        assert "wrong-pw" not in str(info.value)
        assert inbox.mails == []

    def test_unreachable_server_is_a_notify_error(self) -> None:
        """Nothing listening is one NotifyError naming host and port."""
        port = free_port()
        settings = EmailSettings(smtp_port=port, recipients=["qa@x"], timeout_s=2)
        with pytest.raises(NotifyError, match=f"SMTP 127.0.0.1:{port}"):
            EmailNotifier(settings, builtin_only).send(raised(alarm("A1")))

    def test_mails_name_parameters_as_the_facility_in_force(self, inbox: Inbox) -> None:
        """A declared parameter is mailed by its name, in its unit; after a reload that
        renames it, the next mail uses the new name and unit."""
        example = EXAMPLE_FACILITY.read_text()
        running = [parse_facility(example)]
        notifier = EmailNotifier(email_settings(inbox), lambda: running[0].parameters)
        co2 = alarm("A-CO2", room="CELL-B", sensor="INC-01-S1", parameter="co2",
                    equipment="INC-01", value=3.742, peak=3.742, limit=4.5)  # fmt: skip
        notifier.send(raised(co2))
        renamed = example.replace('name = "CO2"\nunit = "%"', 'name = "CO2 conc."\nunit = "vol-%"')
        running[0] = parse_facility(renamed)
        notifier.send(cleared(co2, T0 + 60 * S))
        (_, first), (_, second) = inbox.mails
        assert first["Subject"] == "[envmon] ACTION raised CELL-B INC-01 CO2 3.74 < 4.5 %"
        assert "Parameter:   CO2 (co2)" in first.get_content()
        assert (
            second["Subject"] == "[envmon] ACTION cleared CELL-B INC-01 CO2 conc., peak 70.6 vol-%"
        )
        assert "Limit:       4.5 vol-%" in second.get_content()

    def test_escalation_goes_to_the_escalation_list_through_the_dispatcher(
        self, inbox: Inbox
    ) -> None:
        """Through build_notifiers and the dispatcher, an escalation reaches the second list."""
        settings = NotifySettings(email=email_settings(inbox), retry_initial_s=0.05)
        dispatcher = Dispatcher(build_notifiers(settings, builtin_only), settings)
        dispatcher.start()
        a = alarm("A1")
        dispatcher.submit([raised(a), AlarmEvent(Transition.ESCALATED, a, T0 + 900 * S)])
        assert dispatcher.flush(20)
        dispatcher.stop(2)
        assert [(rcpts, m["Subject"]) for rcpts, m in inbox.mails] == [
            (
                ["qa@example.com", "eng@example.com"],
                "[envmon] ACTION raised FILL-A particles_5_0um 35.3 > 29 counts/m³",
            ),
            (
                ["head-qa@example.com"],
                "[envmon] ACTION escalated FILL-A particles_5_0um: unacknowledged for 15 min",
            ),
        ]
