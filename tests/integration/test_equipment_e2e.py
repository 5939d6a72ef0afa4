"""Issue 17 end to end: equipment, measuring ranges and calibration through ``envmon run``.

A CO2 incubator, a -80 °C freezer, two pressure sensors (one with a
datasheet range) and a climate sensor past its calibration due date publish
to a real Mosquitto; ``envmon run`` stores into a real InfluxDB. Required:
equipment readings stored exactly with their equipment tag; the CO2
excursion's alarm on ``.../alarms/<room>/<equipment>/co2``; the freezer's rate
alarm before its absolute limit; one fault alarm per broken transmitter and
no excursion; one calibration alarm and flagged readings; a calibration
reminder at a webhook for a sensor due in three days; and ``envmon report``
with the equipment section and the faulted readings left out of the
statistics.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from envmon.readings import isoformat_ns
from tests.support.mqtt_watch import TopicWatcher
from tests.support.receivers import WebhookReceiver, webhook_receiver
from tests.support.servers import InfluxDB1, Mosquitto
from tests.support.service_proc import Publisher, ServiceProcess, write_settings
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration

FACILITY = """
site = "site1"

[[parameters]]
id = "co2"
name = "CO2"
unit = "%"
range = [0, 20]

[[rooms]]
id = "PREP-C"
grade = "C"

[rooms.limits.diff_pressure]
action_low = 10.0

[[equipment]]
id = "INC-01"
room = "PREP-C"
type = "incubator"

[equipment.limits.co2]
alert_low = 4.7
action_low = 4.5
delay_s = 120

[[equipment]]
id = "FRZ-01"
room = "PREP-C"
type = "freezer"

[equipment.limits.temperature]
action_high = -65.0
rate_per_min_high = 1.0

[[sensors]]
id = "INC-01-S1"
equipment = "INC-01"
kind = "equipment"
parameters = ["co2", "temperature"]
interval_s = 60
stale_after_s = 3600

[[sensors]]
id = "FRZ-01-S1"
equipment = "FRZ-01"
kind = "equipment"
parameters = ["temperature"]
interval_s = 60
stale_after_s = 3600

[[sensors]]
id = "DP-1"
room = "PREP-C"
kind = "pressure"
interval_s = 60
stale_after_s = 3600
range = { diff_pressure = [-50, 50] }

[[sensors]]
id = "DP-2"
room = "PREP-C"
kind = "pressure"
interval_s = 60
stale_after_s = 3600
calibration_due = {due_in_3_days}

[[sensors]]
id = "TH-1"
room = "PREP-C"
kind = "climate"
interval_s = 60
stale_after_s = 3600
calibration_due = 2020-01-31
certificate = "CAL-2019-0007"
"""

S = 1_000_000_000
MINUTES = 20
ALARMS = "fac/site1/envmon/alarms"
PREFIX = "fac/site1/PREP-C"
CO2 = {m: 4.0 if 5 <= m < 10 else 5.0 for m in range(MINUTES)}
FREEZER = {m: -80.0 + 2.0 * max(0, min(m, 12) - 4) for m in range(MINUTES)}
DP_1 = {m: 60.0 if m == 3 else 15.0 for m in range(MINUTES)}  # 60 Pa: beyond its ±50 Pa
DP_2 = {m: {4: 1e308, 5: -1e308, 6: 1e12, 7: -5e9}.get(m, 15.0) for m in range(MINUTES)}


def envmon(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "envmon.cli", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def messages(t0: int) -> list[tuple[str, bytes]]:
    """Minute by minute, every sensor's reading, in time order."""
    out = []
    for m in range(MINUTES):
        ts = (t0 + 60 * m * S) // S
        out += [
            (f"{PREFIX}/equipment/INC-01-S1",
             {"ts": ts, "values": {"co2": CO2[m], "temperature": 37.0}, "status": "ok"}),
            (f"{PREFIX}/equipment/FRZ-01-S1", {"ts": ts, "values": {"temperature": FREEZER[m]}}),
            (f"{PREFIX}/pressure/DP-1", {"ts": ts, "diff_pressure_pa": DP_1[m]}),
            (f"{PREFIX}/pressure/DP-2", {"ts": ts, "diff_pressure_pa": DP_2[m]}),
            (f"{PREFIX}/climate/TH-1", {"ts": ts, "temperature_c": 20.5, "humidity_pct": 45.0}),
        ]  # fmt: skip
    return [(topic, json.dumps(body).encode()) for topic, body in out]


def alarms(config: Path) -> list[dict[str, Any]]:
    result = envmon(config, "alarms", "--all", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def summary(found: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(
        (a["equipment"] or "", a["sensor"], a["parameter"], a["level"], a["rule"] or "")
        for a in found
    )


class TestEquipmentEndToEnd:
    def test_equipment_ranges_and_calibration(
        self, tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB1
    ) -> None:
        """Equipment stored and judged, broken transmitters faulted, overdue readings flagged."""
        facility = tmp_path / "facility.toml"
        due = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
        facility.write_text(FACILITY.replace("{due_in_3_days}", due))
        with webhook_receiver() as hook:
            extra = f'[notify]\nretry_initial_s = 0.2\n[[notify.webhooks]]\nurl = "{hook.url}"\n'
            config = write_settings(
                tmp_path / "svc", mosquitto, facility, influx=influxdb, extra=extra
            )
            svc = ServiceProcess(config, tmp_path / "envmon.log")
            watcher = TopicWatcher(mosquitto.port)
            pub = Publisher(mosquitto.port)
            t0 = (time.time_ns() // (60 * S) - 30) * 60 * S
            try:
                svc.start()
                sent = messages(t0)
                assert pub.publish_all(sent) == len(sent)
                self._check_storage(influxdb, t0)
                self._check_alarms(config, watcher, t0)
                self._check_reminder(hook, due)
                self._check_report(config, t0)
                assert "Traceback" not in svc.log()
            finally:
                pub.close()
                watcher.close()
                svc.ensure_stopped()

    def _check_reminder(self, hook: WebhookReceiver, due: str) -> None:
        """DP-2 is due in three days: the 7-day reminder reaches the webhook, once."""

        def reminders() -> list[dict[str, Any]]:
            return [b for b in hook.bodies if b["transition"] == "reminder"]

        (body,) = wait_for(reminders, 30, "a calibration reminder at the webhook")
        alarm = body["alarm"]
        assert (alarm["sensor"], alarm["level"], alarm["parameter"], alarm["state"]) == (
            "DP-2", "calibration", "calibration", "closed"
        )  # fmt: skip
        assert alarm["detail"] == f"calibration of DP-2 due in 3 days, on {due}"

    def _check_storage(self, influx: InfluxDB1, t0: int) -> None:
        wait_for(
            lambda: influx.count("climate", "temperature") >= MINUTES,
            60,
            "every reading stored",
        )
        result = influx.query(
            'SELECT "co2", "temperature", "status" FROM "equipment" '
            'GROUP BY "equipment", "sensor", "room", "grade"'
        )["results"][0]["series"]
        by_sensor = {s["tags"]["sensor"]: s for s in result}
        assert by_sensor["INC-01-S1"]["tags"] == {
            "equipment": "INC-01", "sensor": "INC-01-S1", "room": "PREP-C", "grade": "C"
        }  # fmt: skip
        assert [tuple(v) for v in by_sensor["INC-01-S1"]["values"]] == [
            (t0 + 60 * m * S, CO2[m], 37.0, None) for m in range(MINUTES)
        ]
        assert by_sensor["FRZ-01-S1"]["tags"]["equipment"] == "FRZ-01"
        assert [v[2] for v in by_sensor["FRZ-01-S1"]["values"]] == list(FREEZER.values())
        # Out of range: stored with their status and raw values, not as pressures.
        raw = influx.query(
            'SELECT "diff_pressure_raw", "status" FROM "pressure" WHERE "status" = '
            "'out_of_range' GROUP BY \"sensor\""
        )["results"][0]["series"]
        assert {s["tags"]["sensor"]: [v[1] for v in s["values"]] for s in raw} == {
            "DP-1": [60.0],
            "DP-2": [1e308, -1e308, 1e12, -5e9],
        }
        assert influx.count("pressure", "diff_pressure") == 2 * MINUTES - 5
        # Past its calibration date: every climate reading flagged, values kept.
        flagged = influx.rows(
            'SELECT count("temperature") FROM "climate" WHERE "status" = \'calibration_overdue\''
        )
        assert flagged[0][1] == MINUTES

    def _check_alarms(self, config: Path, watcher: TopicWatcher, t0: int) -> None:
        expected = [
            ("", "DP-1", "sensor_fault", "fault", ""),
            ("", "DP-2", "sensor_fault", "fault", ""),
            ("", "TH-1", "calibration", "calibration", ""),
            ("FRZ-01", "FRZ-01-S1", "temperature", "action", "limit"),
            ("FRZ-01", "FRZ-01-S1", "temperature", "alert", "rate"),
            ("INC-01", "INC-01-S1", "co2", "action", "limit"),
            ("INC-01", "INC-01-S1", "co2", "alert", "limit"),
        ]

        def when_all_raised() -> list[dict[str, Any]] | None:
            found = alarms(config)
            return found if summary(found) == expected else None

        found = wait_for(when_all_raised, 60, f"exactly the alarms {expected}")
        by_key = {(a["sensor"], a["parameter"], a["level"]): a for a in found}
        # The CO2 excursion: below 4.5 % from minute 5, raised once the 120 s delay held.
        co2 = by_key[("INC-01-S1", "co2", "action")]
        assert (co2["room"], co2["equipment"], co2["peak"], co2["limit"]) == (
            "PREP-C", "INC-01", 4.0, 4.5
        )  # fmt: skip
        topic = f"{ALARMS}/PREP-C/INC-01/co2"
        wait_for(lambda: watcher.all(topic), 30, f"a retained alarm on {topic}")
        assert any(p["id"] == co2["id"] and p["state"] == "active_unacked"
                   for p in watcher.all(topic))  # fmt: skip
        # The freezer: its rate alert, well before -65 °C, then the action alarm.
        rate = by_key[("FRZ-01-S1", "temperature", "alert")]
        action = by_key[("FRZ-01-S1", "temperature", "action")]
        assert rate["raised_at"] == isoformat_ns(t0 + 5 * 60 * S) and FREEZER[5] == -78.0
        assert action["raised_at"] == isoformat_ns(t0 + 12 * 60 * S) and FREEZER[12] > -65.0
        assert (rate["peak"], rate["limit"], rate["detail"]) == (
            2.0, 1.0, "rate above rate_per_min_high 1 per min"
        )  # fmt: skip
        freezer = f"{ALARMS}/PREP-C/FRZ-01/temperature"
        wait_for(lambda: watcher.all(freezer), 30, f"a retained alarm on {freezer}")
        first = wait_for(lambda: [p for p in watcher.all(freezer) if p["id"] == rate["id"]], 30,
                         "the rate alarm on its topic")[0]  # fmt: skip
        assert (first["state"], first["rule"], first["value"]) == ("active_unacked", "rate", 2.0)
        # Broken transmitters: a fault each, with what was out of range; cleared once sane.
        fault = by_key[("DP-2", "sensor_fault", "fault")]
        assert fault["detail"].startswith("measuring range: diff_pressure 1e+308 outside")
        assert fault["state"] == "cleared_unacked"
        assert by_key[("DP-1", "sensor_fault", "fault")]["detail"] == (
            "measuring range: diff_pressure 60 outside [-50, 50] Pa"
        )
        # Calibration: one alarm, still active (no new record).
        assert by_key[("TH-1", "calibration", "calibration")]["state"] == "active_unacked"
        assert watcher.all(f"{ALARMS}/PREP-C/calibration")

    def _check_report(self, config: Path, t0: int) -> None:
        result = envmon(
            config, "report", "--from", isoformat_ns(t0),
            "--to", isoformat_ns(t0 + MINUTES * 60 * S), "--format", "json",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        obj = json.loads(result.stdout)
        (room,) = obj["rooms"]
        dp = room["diff_pressure"]
        assert (dp["samples"], dp["faulted_samples"], dp["min"], dp["max"], dp["mean"]) == (
            2 * MINUTES - 5, 5, 15.0, 15.0, 15.0
        )  # fmt: skip
        assert dp["excursions"] == {"alert": 0, "action": 0}
        assert room["temperature"]["uncalibrated_samples"] == MINUTES
        assert room["temperature"]["samples"] == MINUTES
        equipment = {e["equipment"]: e for e in obj["equipment"]}
        assert set(equipment) == {"FRZ-01", "INC-01"}
        co2 = equipment["INC-01"]["co2"]
        assert (co2["samples"], co2["min"], co2["max"], co2["unit"]) == (MINUTES, 4.0, 5.0, "%")
        assert co2["excursions"] == {"alert": 1, "action": 1}
        assert equipment["FRZ-01"]["temperature"]["excursions"] == {"alert": 1, "action": 1}
        assert equipment["INC-01"]["status"] == "not_in_control"
        rules = sorted((e["equipment"], e["parameter"], e["level"], e["rule"])
                       for e in obj["excursions"])  # fmt: skip
        assert rules == [
            ("FRZ-01", "temperature", "action", "limit"),
            ("FRZ-01", "temperature", "alert", "rate"),
            ("INC-01", "co2", "action", "limit"),
            ("INC-01", "co2", "alert", "limit"),
        ]
        calibration = {c["sensor"]: c for c in obj["calibration"]}
        th = calibration["TH-1"]
        assert (th["due"], th["certificate"], th["state"], th["uncalibrated_samples"]) == (
            "2020-01-31", "CAL-2019-0007", "overdue", MINUTES
        )  # fmt: skip
        html = envmon(
            config, "report", "--from", isoformat_ns(t0),
            "--to", isoformat_ns(t0 + MINUTES * 60 * S), "--format", "html",
        )  # fmt: skip
        assert html.returncode == 0, html.stderr
        assert "Figures per equipment and parameter" in html.stdout
