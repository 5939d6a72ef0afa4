"""Pure parts of the alarm outputs: topic and payload, webhook body, email text, factory."""

from __future__ import annotations

import json

import pytest

from envmon.alarms.events import AlarmEvent, AlarmState, Level, Transition
from envmon.facility import BUILTIN_PARAMETERS, load_facility
from envmon.notify import MqttAlarmPublisher, NotifyError, alarm_payload, alarm_topic
from envmon.notify.config import EmailSettings, NotifySettings, WebhookSettings
from envmon.notify.email import EmailNotifier, body, build_message, format_value, subject
from envmon.notify.factory import build_notifiers
from envmon.notify.webhook import WebhookNotifier, redacted_url, webhook_body
from tests.support.console import EXAMPLE_FACILITY
from tests.support.journal_samples import T0, S, acked, alarm, cleared, raised

BUILTIN = BUILTIN_PARAMETERS
"""A facility that declares no parameter of its own."""


class TestAlarmTopic:
    def test_topic_layout(self) -> None:
        """The topic is <prefix>/<site>/envmon/alarms/<room>/<parameter>."""
        assert alarm_topic("fac", "site1", "FILL-A", "diff_pressure") == (
            "fac/site1/envmon/alarms/FILL-A/diff_pressure"
        )

    def test_equipment_topic_layout(self) -> None:
        """On equipment: <prefix>/<site>/envmon/alarms/<room>/<equipment>/<parameter>."""
        assert alarm_topic("fac", "site1", "PREP-C", "co2", "INC-01") == (
            "fac/site1/envmon/alarms/PREP-C/INC-01/co2"
        )
        pub = MqttAlarmPublisher(lambda t, p, q, r: None, "fac")
        a = alarm("A2", room="PREP-C", parameter="co2", equipment="INC-01")
        assert pub.topic(a) == "fac/site1/envmon/alarms/PREP-C/INC-01/co2"
        assert json.loads(alarm_payload(a))["equipment"] == "INC-01"

    def test_payload_is_the_contract_object_with_sorted_keys(self) -> None:
        """The payload is Alarm.to_json() as JSON with keys in sorted order."""
        a = alarm("A1")
        text = alarm_payload(a).decode()
        assert json.loads(text) == a.to_json()
        keys = list(json.loads(text))
        assert keys == sorted(keys)
        assert text.startswith('{"acked_at": null, "acked_by": null')

    def test_publisher_publishes_retained_qos1(self) -> None:
        """send() publishes the payload on the alarm's topic at QoS 1, retained."""
        calls: list[tuple[str, bytes, int, bool]] = []
        pub = MqttAlarmPublisher(lambda t, p, q, r: calls.append((t, p, q, r)), "fac")
        ev = raised(alarm("A1"))
        pub.send(ev)
        assert calls == [
            ("fac/site1/envmon/alarms/FILL-A/particles_5_0um", alarm_payload(ev.alarm), 1, True)
        ]

    def test_publisher_failure(self) -> None:
        """A failing client is a NotifyError from send() and False from publish()."""

        def broken(topic: str, payload: bytes, qos: int, retain: bool) -> None:
            raise OSError("not connected")

        pub = MqttAlarmPublisher(broken, "fac")
        with pytest.raises(NotifyError, match="publish to fac/site1/envmon/alarms/FILL-A"):
            pub.send(raised(alarm()))
        assert pub.publish(raised(alarm())) is False


class TestWebhookBody:
    def test_body_has_transition_time_alarm_and_excursion(self) -> None:
        """The POST body carries the transition, its time, the alarm object and the excursion."""
        a = alarm("A1")
        ev = cleared(a, T0 + 90 * S)
        got = json.loads(webhook_body(ev))
        assert got["transition"] == "cleared"
        assert got["at"] == "2026-11-18T11:08:10Z"
        assert got["alarm"] == ev.alarm.to_json()
        assert got["excursion"]["duration_s"] == 90.0
        assert got["excursion"]["end"] == "2026-11-18T11:08:10Z"

    def test_ack_has_no_excursion(self) -> None:
        """Transitions without an excursion send null."""
        assert json.loads(webhook_body(acked(alarm(), T0)))["excursion"] is None

    @pytest.mark.parametrize(
        ("url", "shown"),
        [
            (
                "https://user:secret@hooks.example.com:8443/a/b?token=xyz",
                "https://hooks.example.com:8443/a/b",
            ),
            ("http://127.0.0.1/hook", "http://127.0.0.1/hook"),
        ],
    )
    def test_logged_url_hides_credentials(self, url: str, shown: str) -> None:
        """A webhook's name never contains credentials or query tokens."""
        assert redacted_url(url) == shown
        assert WebhookNotifier(WebhookSettings(url=url)).name == f"webhook {shown}"


class TestEmailText:
    @pytest.mark.parametrize(
        ("value", "text"),
        [(35.0, "35"), (35.3, "35.3"), (1413.434, "1413.43"), (None, "?"), (-0.5, "-0.5")],
    )
    def test_format_value(self, value: float | None, text: str) -> None:
        """Values are shown without trailing zeros, at most two decimals."""
        assert format_value(value) == text

    def test_raised_high(self) -> None:
        """A high raise reads value > limit with the unit."""
        ev = raised(alarm("A1", value=35.0, limit=29.0))
        assert (
            subject(ev, BUILTIN)
            == "[envmon] ACTION raised FILL-A particles_5_0um 35 > 29 counts/m³"
        )

    def test_raised_low(self) -> None:
        """A low raise reads value < limit."""
        a = alarm("A1", parameter="diff_pressure", level=Level.ALERT, value=8.5, limit=12.0)
        assert (
            subject(raised(a), BUILTIN) == "[envmon] ALERT raised FILL-A diff_pressure 8.5 < 12 Pa"
        )

    def test_comm_loss_names_the_sensor_and_detail(self) -> None:
        """Communication loss names the sensor and says why."""
        a = alarm("C1", level=Level.COMM_LOSS, limit=None, detail="no data for 180 s")
        assert (
            subject(raised(a), BUILTIN)
            == "[envmon] COMM LOSS raised FILL-A PC-FILL-1: no data for 180 s"
        )

    def test_other_transitions(self) -> None:
        """Cleared shows the peak, acked the user, escalated the minutes unacknowledged."""
        a = alarm("A1")
        assert subject(cleared(a, T0 + S), BUILTIN) == (
            "[envmon] ACTION cleared FILL-A particles_5_0um, peak 70.6 counts/m³"
        )
        assert (
            subject(acked(a, T0 + S), BUILTIN)
            == "[envmon] ACTION acked FILL-A particles_5_0um by alice"
        )
        esc = AlarmEvent(Transition.ESCALATED, a, T0 + 15 * 60 * S)
        assert subject(esc, BUILTIN) == (
            "[envmon] ACTION escalated FILL-A particles_5_0um: unacknowledged for 15 min"
        )

    def test_body_lists_facts_and_how_to_ack(self) -> None:
        """The body names the alarm's facts and the ack command while unacknowledged."""
        text = body(raised(alarm("A1")), BUILTIN)
        assert "Room:        FILL-A (in_operation)" in text
        assert "Limit:       29 counts/m³" in text
        assert 'envmon ack A1 --user NAME --comment "REASON"' in text
        closed = alarm("A1", state=AlarmState.CLOSED, acked_by="bob", acked_ns=T0, comment="ok")
        assert "envmon ack" not in body(AlarmEvent(Transition.CLOSED, closed, T0), BUILTIN)

    def test_message_headers(self) -> None:
        """The message has the subject, sender, recipients and alarm id header."""
        msg = build_message(raised(alarm("A1")), "envmon@site", ["qa@site", "eng@site"], BUILTIN)
        assert msg["To"] == "qa@site, eng@site"
        assert msg["From"] == "envmon@site"
        assert msg["X-Envmon-Alarm"] == "A1"
        assert "35.3 > 29" in str(msg["Subject"])

    def test_recipients_by_transition(self) -> None:
        """Selected transitions go to recipients, escalations to the escalation list."""
        n = EmailNotifier(
            EmailSettings(recipients=["qa@x"], escalation_recipients=["boss@x"]), lambda: BUILTIN
        )
        a = alarm("A1")
        assert n.recipients_for(raised(a)) == ["qa@x"]
        assert n.recipients_for(acked(a, T0)) == []
        assert n.recipients_for(AlarmEvent(Transition.ESCALATED, a, T0)) == ["boss@x"]
        plain = EmailNotifier(EmailSettings(recipients=["qa@x"]), lambda: BUILTIN)
        assert plain.recipients_for(AlarmEvent(Transition.ESCALATED, a, T0)) == ["qa@x"]


class TestEquipmentEmail:
    def test_rate_alarm_reads_as_a_rate(self) -> None:
        """A rate alarm's subject and body say rate per minute, not a value beyond a limit."""
        a = alarm("R1", room="PREP-C", sensor="FRZ-01-S1", parameter="temperature",
                  level=Level.ALERT, equipment="FRZ-01", rule="rate", value=2.0, peak=2.5,
                  limit=1.0)  # fmt: skip
        assert subject(raised(a), BUILTIN) == (
            "[envmon] ALERT raised PREP-C FRZ-01 temperature rate 2 > 1 per min"
        )
        text = body(raised(a), BUILTIN)
        assert "Equipment:   FRZ-01" in text and "Rule:        rate of change" in text
        assert "Fastest:     2.5 per min" in text

    def test_calibration_reminder(self) -> None:
        """A reminder's subject says what falls due, without an acknowledgement line."""
        a = alarm("cal-1", room="PREP-C", sensor="DP-1", parameter="calibration",
                  level=Level.CALIBRATION, state=AlarmState.CLOSED,
                  detail="calibration of DP-1 due in 7 days, on 2027-06-30")  # fmt: skip
        event = AlarmEvent(Transition.REMINDER, a, T0)
        assert subject(event, BUILTIN) == (
            "[envmon] CALIBRATION reminder PREP-C DP-1: calibration of DP-1 due in 7 days, "
            "on 2027-06-30"
        )
        assert "envmon ack" not in body(event, BUILTIN)


class TestDeclaredParameterEmail:
    EXAMPLE = load_facility(EXAMPLE_FACILITY).parameters
    """The example facility, which declares co2 (CO2, %)."""
    CO2 = alarm("A-CO2", room="CELL-B", sensor="INC-01-S1", parameter="co2", equipment="INC-01",
                value=3.742, peak=3.742, limit=4.5)  # fmt: skip

    def test_subject_and_body_name_it_and_give_its_unit(self) -> None:
        """A declared parameter reads by the facility's name for it, in its unit."""
        assert subject(raised(self.CO2), self.EXAMPLE) == (
            "[envmon] ACTION raised CELL-B INC-01 CO2 3.74 < 4.5 %"
        )
        assert subject(cleared(self.CO2, T0 + S), self.EXAMPLE) == (
            "[envmon] ACTION cleared CELL-B INC-01 CO2, peak 70.6 %"
        )
        text = body(raised(self.CO2), self.EXAMPLE)
        assert "Parameter:   CO2 (co2)\n" in text
        assert "Limit:       4.5 %\nValue:       3.74 %\nPeak:        3.74 %\n" in text

    def test_builtin_parameters_read_as_before(self) -> None:
        """A facility's declarations leave the built-in parameters' wording alone."""
        ev = raised(alarm("A1", value=35.0, limit=29.0))
        assert subject(ev, self.EXAMPLE) == subject(ev, BUILTIN)
        assert body(ev, self.EXAMPLE) == body(ev, BUILTIN)
        assert "Parameter:   particles_5_0um\n" in body(ev, self.EXAMPLE)

    def test_unknown_parameter_reads_as_its_id_without_a_unit(self) -> None:
        """A parameter the facility no longer declares: its id, values without a unit."""
        assert subject(raised(self.CO2), BUILTIN) == (
            "[envmon] ACTION raised CELL-B INC-01 co2 3.74 < 4.5"
        )
        text = body(raised(self.CO2), BUILTIN)
        assert "Parameter:   co2\n" in text and "Limit:       4.5\n" in text


class TestBuildNotifiers:
    def test_one_per_webhook_and_email_with_recipients(self) -> None:
        """Each webhook, and email when it has recipients, becomes a notifier."""
        settings = NotifySettings(
            webhooks=[WebhookSettings(url="http://a/x"), WebhookSettings(url="http://b/y")],
            email=EmailSettings(recipients=["qa@x"]),
        )
        names = [n.name for n in build_notifiers(settings, lambda: BUILTIN)]
        assert names == ["webhook http://a/x", "webhook http://b/y", "email via 127.0.0.1:25"]
        assert build_notifiers(NotifySettings(email=EmailSettings()), lambda: BUILTIN) == []
