"""Email channel: one plain-text message per alarm transition, over SMTP.

Subjects read on a phone's lock screen, e.g.
``[envmon] ACTION raised FILL-A particles_5_0um 35 > 29 counts/m³``, or for a
parameter the facility declares, by its name and in its unit,
``[envmon] ACTION raised CELL-B INC-01 CO2 3.74 < 4.5 %``.
Escalations go to ``escalation_recipients`` (the ordinary list when empty).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid

from envmon.alarms.events import Alarm, AlarmEvent, Level, Rule, Transition
from envmon.facility import ParameterInfo
from envmon.notify.base import NotifyError
from envmon.notify.config import EmailSettings
from envmon.readings import NS_PER_S, isoformat_ns

Parameters = Mapping[str, ParameterInfo]
"""The facility's parameters (``Facility.parameters``): their names and units."""
ParametersNow = Callable[[], Parameters]
"""The parameters of the facility in force when a message is written (after a reload,
the new facility's)."""

_LIMIT_LEVELS = (Level.ALERT, Level.ACTION)
# Long subjects stay on one line (RFC 5322 allows 998 characters): Python's
# folding of a long first word leaves a leading space in some readers.
_POLICY = SMTP_POLICY.clone(max_line_length=998)


def format_value(value: float | None) -> str:
    """A reading for people: no trailing zeros, two decimals at most."""
    if value is None:
        return "?"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _level_word(alarm: Alarm) -> str:
    return alarm.level.value.upper().replace("_", " ")


def _declared(alarm: Alarm, parameters: Parameters) -> ParameterInfo | None:
    """The facility's own parameter the alarm is about; None for a built-in one, envmon's
    own (comm_loss, sensor_fault, calibration) and one no longer in the facility."""
    info = parameters.get(alarm.parameter)
    return info if info is not None and not info.builtin else None


def _name(alarm: Alarm, parameters: Parameters) -> str:
    """A declared parameter by its name; any other by its id, as commands and topics have it."""
    declared = _declared(alarm, parameters)
    return declared.name if declared is not None else alarm.parameter


def _with_unit(value: float | None, alarm: Alarm, parameters: Parameters) -> str:
    info = parameters.get(alarm.parameter)
    unit = info.unit if info is not None else ""
    return f"{format_value(value)} {unit}" if unit else format_value(value)


def _what(alarm: Alarm, parameters: Parameters) -> str:
    where = f"{alarm.room} {alarm.equipment}" if alarm.equipment else alarm.room
    if alarm.level in _LIMIT_LEVELS:
        return f"{where} {_name(alarm, parameters)}"
    return f"{where} {alarm.sensor}"


def _is_rate(alarm: Alarm) -> bool:
    return alarm.rule == Rule.RATE


def subject(event: AlarmEvent, parameters: Parameters) -> str:
    """One line saying what happened, where, and how bad."""
    alarm = event.alarm
    head = f"[envmon] {_level_word(alarm)} {event.transition.value} {_what(alarm, parameters)}"
    if event.transition is Transition.RAISED:
        if alarm.level in _LIMIT_LEVELS and alarm.limit is not None:
            value = alarm.value if alarm.value is not None else alarm.peak
            sign = "<" if value is not None and value < alarm.limit else ">"
            if _is_rate(alarm):
                return (
                    f"{head} rate {format_value(value)} {sign} {format_value(alarm.limit)} per min"
                )
            limit = _with_unit(alarm.limit, alarm, parameters)
            return f"{head} {format_value(value)} {sign} {limit}"
        return f"{head}: {alarm.detail}" if alarm.detail else head
    if event.transition is Transition.REMINDER:
        return f"{head}: {alarm.detail}"
    if event.transition is Transition.CLEARED and alarm.peak is not None:
        if _is_rate(alarm):
            return f"{head}, fastest rate {format_value(alarm.peak)} per min"
        return f"{head}, peak {_with_unit(alarm.peak, alarm, parameters)}"
    if event.transition is Transition.ACKED and alarm.acked_by:
        return f"{head} by {alarm.acked_by}"
    if event.transition is Transition.ESCALATED:
        minutes = max(0, event.at_ns - alarm.raised_ns) // (60 * NS_PER_S)
        return f"{head}: unacknowledged for {minutes} min"
    return head


def body(event: AlarmEvent, parameters: Parameters) -> str:
    """Every fact of the alarm, one per line, and how to acknowledge it."""
    a = event.alarm
    at = isoformat_ns(event.at_ns)
    declared = _declared(a, parameters)
    parameter = f"{declared.name} ({a.parameter})" if declared is not None else a.parameter
    lines = [
        f"{_level_word(a)} alarm {a.id}: {event.transition.value} at {at}",
        "",
        f"Site:        {a.site}",
        f"Room:        {a.room} ({a.room_state or 'state unknown'})",
        *([f"Equipment:   {a.equipment}"] if a.equipment else []),
        f"Sensor:      {a.sensor}",
        f"Parameter:   {parameter}",
        f"State:       {a.state.value}",
        f"Raised at:   {isoformat_ns(a.raised_ns)}",
    ]
    if a.level in _LIMIT_LEVELS and _is_rate(a):
        lines += [
            "Rule:        rate of change",
            f"Limit:       {format_value(a.limit)} per min",
            f"Rate:        {format_value(a.value)} per min",
            f"Fastest:     {format_value(a.peak)} per min",
            f"Samples:     {a.samples}",
        ]
    elif a.level in _LIMIT_LEVELS:
        lines += [
            f"Limit:       {_with_unit(a.limit, a, parameters)}",
            f"Value:       {_with_unit(a.value, a, parameters)}",
            f"Peak:        {_with_unit(a.peak, a, parameters)}",
            f"Samples:     {a.samples}",
        ]
    if a.cleared_ns is not None:
        lines.append(f"Cleared at:  {isoformat_ns(a.cleared_ns)}")
    if a.acked_by is not None:
        acked_at = isoformat_ns(a.acked_ns) if a.acked_ns is not None else "?"
        lines.append(f"Acked by:    {a.acked_by} at {acked_at}: {a.comment or ''}")
    if a.detail:
        lines.append(f"Detail:      {a.detail}")
    if a.state.value.endswith("unacked"):
        lines += ["", f'Acknowledge: envmon ack {a.id} --user NAME --comment "REASON"']
    return "\n".join(lines) + "\n"


def build_message(
    event: AlarmEvent, sender: str, recipients: list[str], parameters: Parameters
) -> EmailMessage:
    message = EmailMessage(policy=_POLICY)
    message["Subject"] = subject(event, parameters)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain="envmon")
    message["X-Envmon-Alarm"] = event.alarm.id
    message.set_content(body(event, parameters))
    return message


class EmailNotifier:
    """Sends each selected transition to the configured recipients, naming parameters
    as the facility in force when it writes the message does (``parameters``)."""

    def __init__(self, settings: EmailSettings, parameters: ParametersNow) -> None:
        self.settings = settings
        self._parameters = parameters
        self.name = f"email via {settings.smtp_host}:{settings.smtp_port}"
        self.retries = settings.retries

    def recipients_for(self, event: AlarmEvent) -> list[str]:
        """Who gets this event: nobody for transitions not selected in settings."""
        s = self.settings
        if event.transition is Transition.ESCALATED:
            return list(s.escalation_recipients or s.recipients)
        return list(s.recipients) if event.transition in s.transitions else []

    def send(self, event: AlarmEvent) -> None:
        recipients = self.recipients_for(event)
        if not recipients:
            return
        s = self.settings
        message = build_message(event, s.sender, recipients, self._parameters())
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout_s) as smtp:
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.username:
                    password = s.password.get_secret_value() if s.password else ""
                    smtp.login(s.username, password)
                smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise NotifyError(f"SMTP login as {s.username} refused ({exc.smtp_code})") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise NotifyError(f"SMTP {s.smtp_host}:{s.smtp_port}: {exc}") from None
