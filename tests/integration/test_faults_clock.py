"""Issue 6, time: sensor clocks that are wrong, slightly or wildly.

Wildly (beyond ``ingest.max_future_s`` / ``max_past_s``): the reading is
rejected with a reason on ``.../envmon/rejected`` and never stored. Slightly
(beyond ``ingest.clock_drift_warn_s``): the reading is stored, and envmon
logs and publishes one warning on ``.../envmon/warnings`` for that sensor.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.support.mqtt_watch import TopicWatcher
from tests.support.servers import InfluxDB1, Mosquitto
from tests.support.service_proc import Publisher, ServiceProcess, write_settings

pytestmark = pytest.mark.integration

FACILITY = """
site = "site1"

[[rooms]]
id = "R1"
grade = "C"

[[sensors]]
id = "GOOD"
room = "R1"
kind = "climate"

[[sensors]]
id = "AHEAD"
room = "R1"
kind = "climate"

[[sensors]]
id = "BEHIND"
room = "R1"
kind = "climate"

[[sensors]]
id = "WILD"
room = "R1"
kind = "climate"
"""
TIME_SETTINGS = """
[ingest]
max_future_s = 300
max_past_s = 3600
clock_drift_warn_s = 20
clock_drift_window_s = 2
clock_drift_warn_every_s = 3600
"""
OFFSETS_S = {"GOOD": -0.05, "AHEAD": 90.0, "BEHIND": -600.0}
WILD_S = (400.0, -7200.0, 1e7)
ROUNDS = 25  # 5 s at 5 readings/s per sensor: two drift windows and more


class TestSensorClocks:
    def test_wild_timestamps_rejected_and_drifting_clocks_warned_once(
        self, tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB1
    ) -> None:
        """Far-off ts are rejected, not stored; 90 s ahead and 600 s behind warn once each."""
        facility = tmp_path / "facility.toml"
        facility.write_text(FACILITY)
        config = write_settings(
            tmp_path / "svc", mosquitto, facility, influx=influxdb, extra=TIME_SETTINGS
        )
        svc = ServiceProcess(config, tmp_path / "envmon.log")
        watcher = TopicWatcher(
            mosquitto.port, ("fac/site1/envmon/rejected", "fac/site1/envmon/warnings")
        )
        pub = Publisher(mosquitto.port)
        try:
            svc.start()
            for _ in range(ROUNDS):
                now = time.time()
                messages = [
                    (f"fac/site1/R1/climate/{sensor}",
                     json.dumps({"ts": now + offset, "temperature_c": 20.0}).encode())
                    for sensor, offset in OFFSETS_S.items()
                ]  # fmt: skip
                assert pub.publish_all(messages) == len(messages)
                time.sleep(0.2)
            for offset in WILD_S:
                body = json.dumps({"ts": time.time() + offset, "temperature_c": 20.0}).encode()
                assert pub.publish_all([("fac/site1/R1/climate/WILD", body)]) == 1
            deadline = time.monotonic() + 30
            expected = ROUNDS * len(OFFSETS_S)
            while time.monotonic() < deadline and (
                influxdb.count("climate", "temperature") < expected
                or len(watcher.all("/rejected")) < 3
            ):
                time.sleep(0.3)
            time.sleep(1)
            code, _ = svc.terminate()
            assert code == 0
        finally:
            pub.close()
            watcher.close()
            svc.ensure_stopped()
        assert sorted(r["reason"] for r in watcher.all("/rejected")) == [
            "future_timestamp", "future_timestamp", "past_timestamp"
        ]  # fmt: skip
        assert all("WILD" in r["topic"] and r["detail"] for r in watcher.all("/rejected"))
        assert influxdb.count("climate", "temperature", "WHERE sensor = 'WILD'") == 0
        assert influxdb.count("climate", "temperature") == ROUNDS * len(OFFSETS_S)
        by_sensor = {w["sensor"]: w for w in watcher.all("/warnings")}
        assert sorted(w["sensor"] for w in watcher.all("/warnings")) == ["AHEAD", "BEHIND"]
        assert 80 <= by_sensor["AHEAD"]["offset_s"] <= 91
        assert -610 <= by_sensor["BEHIND"]["offset_s"] <= -599
        log = svc.log()
        assert log.count("clock drift: ") == 2
        assert "sensor AHEAD (room R1) clock is" in log
