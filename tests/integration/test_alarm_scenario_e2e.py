"""Issue 3 end to end: a scripted cleanroom scenario through ``envmon run``.

A >=5.0 um burst in the Grade A zone in operation, a door-opening pressure dip
shorter than its delay (no alarm: a transient in the report) and a longer one
(alarm), and a sensor going
silent must give exactly the expected alarms: on the retained MQTT topics, in
the journal, in InfluxDB, at a webhook and by email. ``envmon ack`` closes the
loop; a restart in the middle of an excursion does not raise it twice; and
``envmon audit --verify`` catches a row edited by hand.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from envmon.journal.journal import Journal
from envmon.readings import isoformat_ns
from tests.support.mqtt_watch import TopicWatcher
from tests.support.receivers import smtp_inbox, webhook_receiver
from tests.support.servers import InfluxDB1, Mosquitto
from tests.support.service_proc import Publisher, ServiceProcess, write_settings
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration

FACILITY = """
site = "site1"

[[rooms]]
id = "FILL-A"
grade = "A"
reference = "BG-B"
default_state = "in_operation"

[rooms.limits.particles_5_0um]
alert_high = 20
consecutive = 2

[rooms.limits.diff_pressure]
alert_low = 12.0
action_low = 10.0
delay_s = 60

[[rooms]]
id = "BG-B"
grade = "B"

[[sensors]]
id = "PC-FILL-A-1"
room = "FILL-A"
kind = "particles"
interval_s = 60
stale_after_s = 3600

[[sensors]]
id = "DP-FILL-A-1"
room = "FILL-A"
kind = "pressure"
interval_s = 10
stale_after_s = 3600

[[sensors]]
id = "TH-BG-B-1"
room = "BG-B"
kind = "climate"
interval_s = 1
stale_after_s = 3
"""

S = 1_000_000_000


def envmon(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "envmon.cli", *args, "--config", str(config)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def particles(t0: int, ks: range, counts_5um: list[int]) -> list[tuple[str, bytes]]:
    out = []
    for k in ks:
        payload = {
            "ts": (t0 + 60 * k * S) / S,
            "sample_volume_l": 28.3,
            "counts": {"0.5": 10 + k, "5.0": counts_5um[k]},
            "status": "ok",
        }
        out.append(("fac/site1/FILL-A/particles/PC-FILL-A-1", json.dumps(payload).encode()))
    return out


def pressure(t0: int, seconds: range, low: range) -> list[tuple[str, bytes]]:
    out = []
    for sec in seconds:
        value = 8.0 if sec in low else 15.0
        payload = {"ts": (t0 + sec * S) / S, "diff_pressure_pa": value}
        out.append(("fac/site1/FILL-A/pressure/DP-FILL-A-1", json.dumps(payload).encode()))
    return out


def alarms_json(config: Path) -> list[dict[str, Any]]:
    result = envmon(config, "alarms", "--all", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def key(a: dict[str, Any]) -> tuple[str, str, str]:
    return (a["room"], a["parameter"], a["level"])


class TestAlarmScenario:
    def test_scripted_scenario_gives_exactly_the_expected_alarms(
        self, tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB1
    ) -> None:
        """Burst, short and long pressure dips, a silent sensor: five alarms, everywhere, once."""
        facility = tmp_path / "facility.toml"
        facility.write_text(FACILITY)
        with webhook_receiver() as hook, smtp_inbox() as inbox:
            extra = (
                "[notify]\nflap_suppress_s = 300\nretry_initial_s = 0.2\n"
                f'[[notify.webhooks]]\nurl = "{hook.url}"\n'
                f'[notify.email]\nsmtp_host = "127.0.0.1"\nsmtp_port = {inbox.port}\n'
                'recipients = ["oncall@example.test"]\n'
            )
            config = write_settings(
                tmp_path / "svc", mosquitto, facility, influx=influxdb, extra=extra
            )
            svc = ServiceProcess(config, tmp_path / "envmon.log")
            pub = Publisher(mosquitto.port)
            try:
                self._run(tmp_path, config, svc, pub, mosquitto, influxdb, hook, inbox)
            finally:
                pub.close()
                svc.ensure_stopped()

    def _run(
        self,
        tmp_path: Path,
        config: Path,
        svc: ServiceProcess,
        pub: Publisher,
        mosquitto: Mosquitto,
        influxdb: InfluxDB1,
        hook: Any,
        inbox: Any,
    ) -> None:
        t0 = (time.time_ns() // S - 900) * S
        counts = [0, 0, 1, 2, 1, 0, 0, 0, 0, 0]
        svc.start()

        # Phase 1: the burst reaches its second consecutive sample (k=3); a 30 s
        # pressure dip (shorter than the 60 s delay); the climate sensor speaks, then stops.
        climate = [
            (
                "fac/site1/BG-B/climate/TH-BG-B-1",
                json.dumps(
                    {"ts": time.time() - 2 + i * 0.5, "temperature_c": 20.5, "humidity_pct": 45.0}
                ).encode(),
            )
            for i in range(3)
        ]
        phase1 = (
            particles(t0, range(4), counts)
            + pressure(t0, range(0, 300, 10), range(100, 130))
            + climate
        )
        assert pub.publish_all(phase1) == len(phase1)
        wait_for(
            lambda: (
                {key(a) for a in alarms_json(config)}
                >= {
                    ("FILL-A", "particles_5_0um", "alert"),
                    ("FILL-A", "particles_5_0um", "action"),
                    ("BG-B", "comm_loss", "comm_loss"),
                }
            ),
            what="burst and comm-loss alarms",
        )
        assert not any(a["parameter"] == "diff_pressure" for a in alarms_json(config)), (
            "a dip shorter than delay_s must not alarm"
        )

        # Restart in the middle of the particle excursion.
        code, _ = svc.terminate()
        assert code == 0
        svc.start(wait_for="MQTT connected", timeout_s=30)

        # Phase 2: the burst ends at k=5; a 100 s pressure dip (longer than the delay).
        phase2 = particles(t0, range(4, 10), counts) + pressure(
            t0, range(300, 600, 10), range(300, 400)
        )
        assert pub.publish_all(phase2) == len(phase2)

        def settled() -> list[dict[str, Any]] | None:
            alarms = alarms_json(config)
            limit_alarms = [a for a in alarms if a["level"] in ("alert", "action")]
            if len(limit_alarms) == 4 and all(
                a["state"] == "cleared_unacked" for a in limit_alarms
            ):
                return alarms
            return None

        alarms = wait_for(settled, what="four cleared limit alarms")
        assert sorted(key(a) for a in alarms) == sorted(
            [
                ("FILL-A", "particles_5_0um", "alert"),
                ("FILL-A", "particles_5_0um", "action"),
                ("FILL-A", "diff_pressure", "alert"),
                ("FILL-A", "diff_pressure", "action"),
                ("BG-B", "comm_loss", "comm_loss"),
            ]
        )
        by_key = {key(a): a for a in alarms}
        burst = by_key[("FILL-A", "particles_5_0um", "action")]
        assert burst["limit"] == 29
        assert burst["peak"] == pytest.approx(2 / 28.3 * 1000)
        assert burst["sensor"] == "PC-FILL-A-1"
        dip = by_key[("FILL-A", "diff_pressure", "action")]
        assert (dip["limit"], dip["peak"]) == (10.0, 8.0)

        # The journal: excursions with exact spans, and each alarm raised exactly once.
        journal = Journal(tmp_path / "svc" / "state" / "journal.sqlite", readonly=True)
        try:
            records = {
                (r.excursion.parameter, r.excursion.level.value): r.excursion
                for r in journal.excursions(t0 - S, t0 + 3600 * S)
            }
            burst_exc = records[("particles_5_0um", "action")]
            assert (burst_exc.start_ns, burst_exc.end_ns) == (t0 + 120 * S, t0 + 300 * S)
            assert burst_exc.samples == 3 and burst_exc.room_state == "in_operation"
            dip_exc = records[("diff_pressure", "action")]
            assert (dip_exc.start_ns, dip_exc.end_ns) == (t0 + 300 * S, t0 + 400 * S)
            assert dip_exc.samples == 10 and dip_exc.peak == 8.0
            raised = [e for e in journal.audit_entries() if e.kind == "alarm.raised"]
            assert sorted(e.subject for e in raised) == sorted(a["id"] for a in alarms)
        finally:
            journal.close()

        # InfluxDB: every transition is a point in the alarm measurement.
        # (written with the next batch: up to influx.flush_interval_s later)
        expected_states = ["active_unacked", "active_unacked", "cleared_unacked", "cleared_unacked"]
        wait_for(
            lambda: (
                sorted(
                    r[1]
                    for r in influxdb.rows(
                        'SELECT "state", "alarm_id" FROM "alarm" WHERE "level" = \'action\''
                    )
                )
                == expected_states
            ),
            what="the action alarms' transitions in InfluxDB",
        )

        # The limits in force are written for Grafana's limit lines.
        limit_rows = influxdb.rows(
            'SELECT last("action_high"), last("alert_high") FROM "limits" '
            "WHERE \"room\" = 'FILL-A' AND \"parameter\" = 'particles_5_0um'"
        )
        assert limit_rows[0][1:] == [29.0, 20.0]

        # Webhook and email received every raise.
        ids = {a["id"] for a in alarms}
        wait_for(
            lambda: {b["alarm"]["id"] for b in hook.bodies if b["transition"] == "raised"} == ids,
            what="webhook raises",
        )
        wait_for(
            lambda: len([m for m in inbox.mails if "raised" in m["Subject"]]) == 5,
            what="five raise mails",
        )
        assert any("ACTION" in m["Subject"] and "FILL-A" in m["Subject"] for m in inbox.mails)

        # Retained topics and `envmon ack` closing the loop within seconds.
        watcher = TopicWatcher(mosquitto.port)
        try:
            topic = "fac/site1/envmon/alarms/FILL-A/particles_5_0um"
            # The broker sends the retained alarms as a burst, handled on paho's thread:
            # wait for each, not just the first.
            wait_for(lambda: watcher.latest(topic), what="retained particle alarm")
            wait_for(
                lambda: watcher.latest("fac/site1/envmon/alarms/BG-B/comm_loss"),
                what="retained comm_loss alarm",
            )
            added = envmon(
                config,
                "user",
                "add",
                "alice",
                "--role",
                "operator",
                "--full-name",
                "Alice Example",
                "--password-stdin",
                stdin="correct horse battery\n",
            )
            assert added.returncode == 0, added.stderr
            t_ack = time.monotonic()
            result = envmon(
                config,
                "ack",
                burst["id"],
                "--user",
                "alice",
                "--comment",
                "burst during line clearance, investigated DEV-1",
                "--password-stdin",
                stdin="correct horse battery\n",
            )
            assert result.returncode == 0, result.stderr
            closed = wait_for(
                lambda: (
                    (m := watcher.latest(topic))
                    and m["id"] == burst["id"]
                    and m["state"] == "closed"
                    and m
                ),
                timeout_s=5,
                what="closed state on the retained topic",
            )
            assert time.monotonic() - t_ack < 5
            assert closed["acked_by"] == "alice"
        finally:
            watcher.close()
        after = {a["id"]: a for a in alarms_json(config)}
        assert after[burst["id"]]["state"] == "closed"
        assert after[burst["id"]]["comment"] == "burst during line clearance, investigated DEV-1"

        # The short dip is in the report as a transient per level, exactly; the long one
        # (an excursion) is not.
        window = [isoformat_ns(t0), isoformat_ns(t0 + 600 * S)]
        report = envmon(config, "report", "--from", window[0], "--to", window[1],
                        "--room", "FILL-A", "--format", "json")  # fmt: skip
        assert report.returncode == 0, report.stderr
        dip = {"room": "FILL-A", "equipment": None, "parameter": "diff_pressure",
               "side": "low", "count": 1, "longest_s": 30.0, "peak": 8.0}  # fmt: skip
        assert json.loads(report.stdout)["transients"] == [
            {**dip, "level": "alert", "limit": 12.0},
            {**dip, "level": "action", "limit": 10.0},
        ]

        # The audit trail verifies, then fails after a row is edited by hand.
        assert envmon(config, "audit", "--verify").returncode == 0
        code, _ = svc.terminate()
        assert code == 0
        db = sqlite3.connect(tmp_path / "svc" / "state" / "journal.sqlite")
        db.execute("UPDATE alarms SET state = 'closed' WHERE state = 'cleared_unacked'")
        db.commit()
        db.close()
        tampered = envmon(config, "audit", "--verify")
        assert tampered.returncode == 1
        assert "TAMPERED" in tampered.stdout
