"""Issue 2: bad payloads are rejected with a reason; valid readings around them all stored."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from tests.support.fleet import FIELDS_BY_KIND, readings, write_facility
from tests.support.servers import InfluxDB1, Mosquitto
from tests.support.service_proc import Publisher, ServiceProcess, write_settings

pytestmark = pytest.mark.integration

GARBAGE: list[tuple[str, bytes, str]] = [
    ("fac/site1/R000/climate/S0001", b"\x00\xff\xfe garbage", "bad_json"),
    ("fac/site1/R000/climate/S0001", b'{"ts": 1, "temperature_c": 2', "bad_json"),
    ("fac/site1/R000/climate/S0001", b'{"temperature_c": "warm", "humidity_pct": 40}', "bad_value"),
    ("fac/site1/R000/climate/S0001", b'{"temperature_c": true, "humidity_pct": 40}', "bad_value"),
    ("fac/site1/R000/climate/S0001", b'{"temperature_c": NaN, "humidity_pct": 40}', ""),
    ("fac/site1/R000/particles/S0000", b'{"per_m3": [5, 0]}', "bad_shape"),
    ("fac/site1/R000/equipment/S0003", b'{"values": {"c02": 5.0}}', "unknown_parameter"),
    (
        "fac/site1/R000/climate/S0001",
        b'{"temperature_c": 20, "pad": "' + b"x" * 70_000 + b'"}',
        "too_large",
    ),
    ("fac/site1/NOPE/climate/S0001", b'{"temperature_c": 20, "humidity_pct": 40}', ""),
    ("fac/site1/R000/climate/S9999", b'{"temperature_c": 20, "humidity_pct": 40}', ""),
    ("fac/site1/R000/pressure/S0001", b'{"diff_pressure_pa": 12}', ""),
    ("fac/site1/R000/climate/S0001", b"[1, 2, 3]", ""),
    ("fac/site1/R000/climate/S0001", b"[" * 5000 + b"]" * 5000, ""),
    ("fac/site1/R000/climate/S0001", b"", ""),
    ("fac/site1/R000/climate", b'{"temperature_c": 20}', ""),
    ("fac/otherSite/R000/climate/S0001", b'{"temperature_c": 20, "humidity_pct": 40}', ""),
    ("fac/site1/R000/climate/S0001", b'{"ts": "yesterday", "temperature_c": 20}', "bad_timestamp"),
    ("fac/site1/R000/climate/S0001", b'{"ts": 99999999999, "temperature_c": 20}', ""),
]


class TestGarbage:
    def test_garbage_is_rejected_and_valid_readings_around_it_are_stored(
        self, tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB1
    ) -> None:
        """Each bad payload gets a reasoned reject notice; the service lives; valid ones stored."""
        facility = write_facility(tmp_path / "facility.toml", 8)
        config = write_settings(tmp_path / "svc", mosquitto, facility, influx=influxdb)
        svc = ServiceProcess(config, tmp_path / "envmon.log")
        notices: list[dict] = []
        got_all = threading.Event()

        def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
            notices.append(json.loads(msg.payload))
            if len(notices) >= len(GARBAGE):
                got_all.set()

        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="reject-watcher")
        sub.on_message = on_message
        sub.connect("127.0.0.1", mosquitto.port)
        sub.subscribe("fac/site1/envmon/rejected", qos=1)
        sub.loop_start()
        try:
            svc.start()
            valid = readings(8, 400)
            messages: list[tuple[str, bytes]] = []
            for i, r in enumerate(valid):
                messages.append((r.topic, r.payload))
                if i % 20 == 0 and i // 20 < len(GARBAGE):
                    topic, payload, _ = GARBAGE[i // 20]
                    messages.append((topic, payload))
            pub = Publisher(mosquitto.port)
            assert pub.publish_all(messages) == len(messages)
            pub.close()
            assert got_all.wait(30), f"only {len(notices)} reject notices: {notices}"
            deadline = time.monotonic() + 30
            stored = 0
            while time.monotonic() < deadline:
                stored = sum(influxdb.count(k, f[0]) for k, f in FIELDS_BY_KIND.items())
                if stored >= len(valid):
                    break
                time.sleep(0.3)
            assert stored == len(valid)
            assert svc.alive()
            for (topic, _, reason), notice in zip(GARBAGE, notices, strict=True):
                assert notice["topic"] == topic
                assert notice["reason"], notice
                assert notice["detail"], notice
                if reason:
                    assert notice["reason"] == reason, notice
            assert "Traceback" not in svc.log()
            code, _ = svc.terminate()
            assert code == 0
        finally:
            sub.loop_stop()
            svc.ensure_stopped()
