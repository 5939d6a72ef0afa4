"""Issue 6, security: state file permissions, the acknowledging OS user, and tag injection.

- journal and spool are created 0600 in a 0700 state dir even under umask 000;
- ``envmon ack`` records the operating-system user beside the named user;
- a room or sensor id from a topic cannot inject tags or line-protocol syntax:
  ingest rejects it (not in the facility file), and the encoder escapes what it
  can and refuses what it cannot, so InfluxDB sees exactly one point, one series.
"""

from __future__ import annotations

import json
import os
import pwd
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from envmon.readings import Kind, Reading
from envmon.store.config import InfluxSettings
from envmon.store.influx import Outcome, V1Writer
from envmon.store.lineproto import reading_line
from tests.support.fleet import readings, write_facility
from tests.support.servers import InfluxDB1, Mosquitto
from tests.support.service_proc import Publisher, ServiceProcess, write_settings

pytestmark = pytest.mark.integration

FACILITY = """
site = "site1"

[[rooms]]
id = "R000"
grade = "C"

[rooms.limits.diff_pressure]
action_low = 10.0

[[sensors]]
id = "P1"
room = "R000"
kind = "pressure"
interval_s = 60
stale_after_s = 3600

[[sensors]]
id = "T1"
room = "R000"
kind = "climate"
interval_s = 60
stale_after_s = 3600
"""


def cli(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "envmon.cli", *args, "--config", str(config)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Children started in the test inherit umask 000: the code, not the umask, must protect."""
    old = os.umask(0)
    yield
    os.umask(old)


class TestStatePermissions:
    def test_journal_spool_and_state_dir_are_private_even_under_umask_000(
        self, tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB1, open_umask: None
    ) -> None:
        """After a run that spooled, journal*/spool* files are 0600 and the state dir 0700."""
        facility = write_facility(tmp_path / "facility.toml", 6)
        config = write_settings(tmp_path / "svc", mosquitto, facility, influx=influxdb)
        svc = ServiceProcess(config, tmp_path / "envmon.log")
        try:
            svc.start()
            influxdb.stop()  # so that the spool really gets written
            pub = Publisher(mosquitto.port)
            sent = readings(6, 60)
            assert pub.publish_all([(r.topic, r.payload) for r in sent]) == 60
            pub.close()
            svc.wait_log("spooling readings", timeout_s=30)
            state = tmp_path / "svc" / "state"
            files = sorted(p for p in state.iterdir() if p.is_file())
            names = {p.name for p in files}
            assert {"journal.sqlite", "spool.sqlite"} <= names
            assert mode(state) == 0o700
            assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
            influxdb.start()
            code, _ = svc.terminate()
            assert code == 0
        finally:
            svc.ensure_stopped()


class TestAckRecordsOsUser:
    def test_ack_is_recorded_with_named_and_os_user_in_the_audit_trail(
        self, tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB1
    ) -> None:
        """An excursion raises one alarm; a signed ``envmon ack`` records user alice and the
        OS user."""
        facility = tmp_path / "facility.toml"
        facility.write_text(FACILITY)
        config = write_settings(tmp_path / "svc", mosquitto, facility, influx=influxdb)
        svc = ServiceProcess(config, tmp_path / "envmon.log")
        os_user = pwd.getpwuid(os.geteuid()).pw_name
        try:
            svc.start()
            now = time.time()
            pub = Publisher(mosquitto.port)
            payloads = [
                (
                    "fac/site1/R000/pressure/P1",
                    json.dumps({"ts": now - 30 + i, "diff_pressure_pa": v}),
                )
                for i, v in enumerate((15.0, 14.0, 4.0, 3.5, 3.0))
            ]
            assert pub.publish_all([(t, p.encode()) for t, p in payloads]) == 5
            pub.close()
            svc.wait_log("alarm ", timeout_s=30)
            alarms: list[dict] = []
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not alarms:
                out = cli(config, "alarms", "--json")
                assert out.returncode == 0, out.stderr
                alarms = json.loads(out.stdout)
                time.sleep(0.3)
            assert [(a["room"], a["parameter"], a["level"]) for a in alarms] == [
                ("R000", "diff_pressure", "action")
            ]
            alarm_id = alarms[0]["id"]
            password = "correct horse battery\n"
            added = cli(
                config, "user", "add", "alice", "--role", "operator",
                "--full-name", "Alice Example", "--password-stdin", stdin=password,
            )  # fmt: skip
            assert added.returncode == 0, added.stderr
            ack = cli(config, "ack", alarm_id, "--user", "alice", "--comment", "door held open",
                      "--password-stdin", stdin=password)  # fmt: skip
            assert ack.returncode == 0, ack.stdout + ack.stderr
            after = json.loads(cli(config, "alarms", "--json", "--all").stdout)
            assert [a["acked_by"] for a in after] == ["alice"]
            code, _ = svc.terminate()
            assert code == 0
        finally:
            svc.ensure_stopped()
        audit = cli(config, "audit")
        assert audit.returncode == 0, audit.stderr
        ack_lines = [
            line for line in audit.stdout.splitlines() if "alice" in line and alarm_id in line
        ]
        assert ack_lines, audit.stdout
        assert all(f" {os_user} " in line for line in ack_lines), ack_lines
        assert cli(config, "audit", "--verify").returncode == 0
        assert f"OS user {os_user}" in svc.log()


# Control characters (a newline) never reach envmon: Mosquitto disconnects a
# client that sends them in a topic. Ingest and the encoder refuse them anyway
# (tests/fuzz and the encoder test below).
HOSTILE_TOPICS = [
    "fac/site1/R000,sensor=evil/climate/T1",
    "fac/site1/R000/climate/T1,room=evil",
    "fac/site1/R000/climate/T1 temperature=99",
    'fac/site1/R000/climate/T1"',
    "fac/site1/R0\\ 00/climate/T1",
    "fac/site1=evil/R000/climate/T1",
]


class TestNoTagInjection:
    def test_hostile_ids_in_topics_are_rejected_and_store_nothing(
        self, tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB1
    ) -> None:
        """Topic ids with , = space quote backslash are rejected; only valid series exist."""
        facility = tmp_path / "facility.toml"
        facility.write_text(FACILITY)
        config = write_settings(tmp_path / "svc", mosquitto, facility, influx=influxdb)
        notices: list[dict] = []
        got_all = threading.Event()

        def on_message(c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
            notices.append(json.loads(msg.payload))
            if len(notices) >= len(HOSTILE_TOPICS):
                got_all.set()

        watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="reject-watcher")
        watcher.on_message = on_message
        watcher.connect("127.0.0.1", mosquitto.port)
        watcher.subscribe("fac/site1/envmon/rejected", qos=1)
        watcher.loop_start()
        svc = ServiceProcess(config, tmp_path / "envmon.log")
        try:
            svc.start()
            now = time.time()
            body = json.dumps({"ts": now, "temperature_c": 21.5, "humidity_pct": 40}).encode()
            messages = [(topic, body) for topic in HOSTILE_TOPICS]
            messages.append(("fac/site1/R000/climate/T1", body))
            pub = Publisher(mosquitto.port)
            assert pub.publish_all(messages) == len(messages)
            pub.close()
            assert got_all.wait(30), notices
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and influxdb.count("climate", "temperature") < 1:
                time.sleep(0.3)
            time.sleep(1)
            code, _ = svc.terminate()
            assert code == 0
        finally:
            svc.ensure_stopped()
            watcher.loop_stop()
            watcher.disconnect()
        assert sorted(n["topic"] for n in notices) == sorted(HOSTILE_TOPICS)
        assert {n["reason"] for n in notices} <= {
            "unknown_room",
            "unknown_sensor",
            "unknown_topic",
            "site_mismatch",
        }
        assert influxdb.count("climate", "temperature") == 1
        assert influxdb.rows('SHOW TAG VALUES FROM "climate" WITH KEY = "sensor"') == [
            ["sensor", "T1"]
        ]
        assert influxdb.rows('SHOW TAG VALUES FROM "climate" WITH KEY = "room"') == [
            ["room", "R000"]
        ]
        assert influxdb.rows('SHOW TAG KEYS FROM "climate"') == [
            ["grade"],
            ["room"],
            ["sensor"],
            ["site"],
        ]

    def test_encoder_escapes_delimiters_and_refuses_newlines_against_real_influxdb(
        self, influxdb: InfluxDB1
    ) -> None:
        """Commas, = and spaces in ids stay one literal tag value; newlines are refused."""
        hostile_room = "R 1,sensor=evil"
        reading = Reading(
            ts_ns=1_700_000_000_000_000_000,
            site="site1",
            room=hostile_room,
            grade="C",
            sensor="S=1,x",
            kind=Kind.PRESSURE,
            values={"diff_pressure": 12.5},
        )
        body = reading_line(reading)
        assert "\n" not in body
        writer = V1Writer(InfluxSettings(url=influxdb.url, api="v1", database=influxdb.database))
        try:
            assert writer.write(body.encode()).outcome is Outcome.OK
        finally:
            writer.close()
        assert influxdb.count("pressure", "diff_pressure") == 1
        assert influxdb.rows('SHOW TAG VALUES FROM "pressure" WITH KEY = "room"') == [
            ["room", hostile_room]
        ]
        assert influxdb.rows('SHOW TAG VALUES FROM "pressure" WITH KEY = "sensor"') == [
            ["sensor", "S=1,x"]
        ]
        for bad_sensor in ("S1\npressure,room=evil diff_pressure=1", "S1\\", "S1\r", ""):
            with pytest.raises(ValueError, match="line protocol"):
                reading_line(
                    Reading(
                        ts_ns=1,
                        site="site1",
                        room="R000",
                        grade="C",
                        sensor=bad_sensor,
                        kind=Kind.PRESSURE,
                        values={"diff_pressure": 1.0},
                    )
                )
