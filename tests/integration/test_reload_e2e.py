"""SIGHUP reloads the facility file without dropping readings; a bad file is refused."""

from __future__ import annotations

import hashlib
import json
import signal
import time
from pathlib import Path

import pytest

from envmon.journal.journal import Journal
from tests.support.fleet import facility_toml
from tests.support.servers import InfluxDB1, Mosquitto
from tests.support.service_proc import Publisher, ServiceProcess, write_settings

pytestmark = pytest.mark.integration


def climate(sensor: str, room: str, ts: float) -> tuple[str, bytes]:
    payload = {"ts": ts, "temperature_c": 21.0, "humidity_pct": 40.0}
    return f"fac/site1/{room}/climate/{sensor}", json.dumps(payload).encode()


def stored(influx: InfluxDB1, sensor: str) -> int:
    return influx.count("climate", "temperature", f"WHERE \"sensor\" = '{sensor}'")


def wait_count(influx: InfluxDB1, sensor: str, n: int) -> int:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and stored(influx, sensor) < n:
        time.sleep(0.2)
    return stored(influx, sensor)


class TestReload:
    def test_sighup_applies_a_good_file_and_refuses_a_bad_one(
        self, tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB1
    ) -> None:
        """A new sensor is accepted after SIGHUP; a broken file is refused and the old one stays."""
        facility = tmp_path / "facility.toml"
        facility.write_text(facility_toml(4))  # S0001 is the climate sensor of room R000
        config = write_settings(tmp_path / "svc", mosquitto, facility, influx=influxdb)
        svc = ServiceProcess(config, tmp_path / "envmon.log")
        pub = Publisher(mosquitto.port)
        try:
            svc.start()
            now = time.time()
            assert pub.publish_all(
                [climate("S0001", "R000", now - 10), climate("NEW-1", "R000", now - 10)]
            )
            assert wait_count(influxdb, "S0001", 1) == 1
            assert stored(influxdb, "NEW-1") == 0, "an unknown sensor must be rejected"

            good = facility.read_text() + (
                '\n[[sensors]]\nid = "NEW-1"\nroom = "R000"\nkind = "climate"\ninterval_s = 1\n'
            )
            facility.write_text(good)
            assert svc.proc is not None
            svc.proc.send_signal(signal.SIGHUP)
            svc.wait_log("facility reloaded")
            assert pub.publish_all(
                [climate("NEW-1", "R000", now - 5), climate("S0001", "R000", now - 5)]
            )
            assert wait_count(influxdb, "NEW-1", 1) == 1

            facility.write_text(good.replace('kind = "climate"', 'kind = "smell"', 1))
            svc.proc.send_signal(signal.SIGHUP)
            svc.wait_log("facility reload refused")
            assert pub.publish_all(
                [climate("NEW-1", "R000", now - 1), climate("S0001", "R000", now - 1)]
            )
            assert wait_count(influxdb, "NEW-1", 2) == 2
            assert wait_count(influxdb, "S0001", 3) == 3
            assert svc.alive()
            code, _ = svc.terminate()
            assert code == 0
        finally:
            pub.close()
            svc.ensure_stopped()

        journal = Journal(tmp_path / "svc" / "state" / "journal.sqlite", readonly=True)
        try:
            loads = [e for e in journal.audit_entries() if e.kind == "config_load"]
        finally:
            journal.close()
        good_sha = hashlib.sha256(good.encode()).hexdigest()
        assert any(e.data["sha256"] == good_sha and e.data["source"] == "SIGHUP" for e in loads)
        assert "Traceback" not in svc.log()
