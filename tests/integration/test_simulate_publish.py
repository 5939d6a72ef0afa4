"""envmon simulate against a real Mosquitto: QoS 1 readings and retained room states."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from envmon.simulate.command import run_simulate
from tests.support.servers import Mosquitto

EXAMPLE_FACILITY = Path(__file__).resolve().parents[2] / "config" / "facility.toml"


def subscriber(port: int, topic: str) -> tuple[mqtt.Client, list[mqtt.MQTTMessage]]:
    received: list[mqtt.MQTTMessage] = []
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-sub-{time.time_ns()}")
    client.on_message = lambda c, u, m: received.append(m)
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert subscribed.wait(10)
    return client, received


def settings_file(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "envmon.toml"
    path.write_text(
        f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\nprefix = "fac"\n'
        f'[facility]\nfile = "{EXAMPLE_FACILITY}"\n'
    )
    return path


@pytest.mark.integration
class TestSimulatePublish:
    def test_count_readings_arrive_with_contract_payloads(
        self, mosquitto: Mosquitto, tmp_path: Path
    ) -> None:
        """--count 48 with the example facility delivers 48 readings and 6 retained states."""
        client, received = subscriber(mosquitto.port, "fac/#")
        try:
            code = run_simulate(
                config=settings_file(tmp_path, mosquitto.port), host=None, port=None,
                rooms=None, interval_s=0.05, scenario="demo", rate=None, duration_s=None,
                count=48, seed=3,
            )  # fmt: skip
            deadline = time.monotonic() + 10
            while len(received) < 54 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            client.loop_stop()
            client.disconnect()
        assert code == 0
        states = [m for m in received if m.topic.endswith("/state")]
        readings = [m for m in received if not m.topic.endswith("/state")]
        assert len(states) == 6 and len(readings) == 48
        assert {m.qos for m in readings} == {1}
        for message in readings:
            body = json.loads(message.payload)
            assert "ts" in body
        sensors = {m.topic.split("/")[-1] for m in readings}
        assert len(sensors) == 24  # two ticks of the 24 sensors, equipment included

    def test_room_states_are_retained_for_late_subscribers(
        self, mosquitto: Mosquitto, tmp_path: Path
    ) -> None:
        """A subscriber that connects after the run still gets every room's state."""
        code = run_simulate(
            config=None, host="127.0.0.1", port=mosquitto.port, rooms=3, interval_s=0.05,
            scenario="normal", rate=None, duration_s=None, count=9, seed=1,
        )  # fmt: skip
        assert code == 0
        client, received = subscriber(mosquitto.port, "fac/+/+/state")
        deadline = time.monotonic() + 5
        while len(received) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        client.loop_stop()
        client.disconnect()
        assert sorted((m.topic, json.loads(m.payload)["state"], m.retain) for m in received) == [
            ("fac/site1/S001-A/state", "in_operation", True),
            ("fac/site1/S001-B/state", "in_operation", True),
            ("fac/site1/S001-C/state", "in_operation", True),
        ]

    def test_rate_paces_readings(self, mosquitto: Mosquitto) -> None:
        """--rate 200 for 2 s publishes roughly 400 readings, not as many as possible."""
        client, received = subscriber(mosquitto.port, "fac/+/+/+/+")
        try:
            code = run_simulate(
                config=None, host="127.0.0.1", port=mosquitto.port, rooms=4, interval_s=1.0,
                scenario="load", rate=200.0, duration_s=2.0, count=None, seed=1,
            )  # fmt: skip
            time.sleep(1.0)
        finally:
            client.loop_stop()
            client.disconnect()
        assert code == 0
        assert 250 <= len(received) <= 450
