"""Issue 6, faults: the MQTT broker restarted twice while readings stream in, over
plain TCP and over TLS with client certificates (the connection then ends inside
TLS records).

Mosquitto keeps envmon's persistent session on disk (``persistence true``);
after each restart envmon reconnects with ``clean_start=False`` and receives
everything queued for it, and the publisher resends what the broker had not
confirmed. Exactly the published readings must end up in InfluxDB.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from tests.integration.test_ingest_e2e import expected_points, influx_points, wait_for_count
from tests.support.certs import Pki
from tests.support.fleet import readings, write_facility
from tests.support.mqtt_endpoint import Endpoint, configure_tls
from tests.support.servers import InfluxDB1
from tests.support.service_proc import ServiceProcess, write_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N_SENSORS = 100
RATE_PER_S = 500
N_READINGS = 10_000  # 20 s at 500/s


def publish_through_outages(
    port: int,
    messages: Sequence[tuple[str, bytes]],
    rate_per_s: float,
    client_id: str = "fault-publisher",
    timeout_s: float = 180.0,
    pki: Pki | None = None,
) -> int:
    """QoS 1 at a steady rate, riding out broker restarts; returns how many got a PUBACK.

    paho keeps every unconfirmed QoS 1 message (also those published while
    disconnected) and resends it after its automatic reconnect.
    """
    assert len(messages) < 65_000, "PUBACKs are matched by mid, which wraps at 65 535"
    acked: set[int] = set()
    lock = threading.Lock()

    def on_publish(c: mqtt.Client, u: object, mid: int, rc: object, props: object) -> None:
        with lock:
            acked.add(mid)

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv311,
        clean_session=False,
    )
    configure_tls(client, pki)
    client.on_publish = on_publish
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(0.2, 1.0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    mids: list[int] = []
    t0 = time.monotonic()
    for i, (topic, payload) in enumerate(messages):
        delay = t0 + i / rate_per_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        # While disconnected rc is MQTT_ERR_NO_CONN, but paho keeps the message.
        mids.append(client.publish(topic, payload, qos=1).mid)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with lock:
            if acked.issuperset(mids):
                break
        time.sleep(0.2)
    client.disconnect()
    client.loop_stop()
    with lock:
        return sum(1 for mid in mids if mid in acked)


class PublishInBackground:
    """``publish_through_outages`` on a thread of its own, while a test makes faults."""

    def __init__(
        self,
        port: int,
        messages: Sequence[tuple[str, bytes]],
        rate_per_s: float,
        pki: Pki | None = None,
    ):
        self._confirmed: list[int] = []
        self._thread = threading.Thread(
            target=lambda: self._confirmed.append(
                publish_through_outages(port, messages, rate_per_s, pki=pki)
            )
        )

    def start(self) -> PublishInBackground:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def confirmed(self, timeout_s: float) -> int | None:
        """How many got a PUBACK, once done; None if still publishing after ``timeout_s``."""
        self._thread.join(timeout=timeout_s)
        return self._confirmed[0] if self._confirmed else None


class TestBrokerRestart:
    def test_two_broker_restarts_mid_stream_lose_and_duplicate_nothing(
        self, tmp_path: Path, endpoint: Endpoint, influxdb: InfluxDB1
    ) -> None:
        """10 000 readings at 500/s across two Mosquitto restarts: all stored exactly once."""
        mosquitto = endpoint.broker
        facility = write_facility(tmp_path / "facility.toml", N_SENSORS)
        config = write_settings(
            tmp_path / "svc", mosquitto, facility, influx=influxdb, mqtt_extra=endpoint.toml()
        )
        svc = ServiceProcess(config, tmp_path / "envmon.log")
        sent = readings(N_SENSORS, N_READINGS)
        try:
            svc.start()
            publisher = PublishInBackground(
                mosquitto.port, [(r.topic, r.payload) for r in sent], RATE_PER_S, endpoint.pki
            ).start()
            for _restart in range(2):
                time.sleep(6)  # streaming at full rate before each restart
                mosquitto.stop()
                time.sleep(2)
                assert svc.alive(), "envmon must survive the broker going away"
                mosquitto.start()
            assert publisher.confirmed(timeout_s=240) == N_READINGS
            assert wait_for_count(influxdb, N_READINGS, timeout_s=120) == N_READINGS
            assert influx_points(influxdb) == expected_points(sent)
            log = svc.log()
            assert log.count("MQTT disconnected") >= 2
            assert log.count("MQTT connected") >= 3
            code, _ = svc.terminate()
            assert code == 0
        finally:
            svc.ensure_stopped()
        print(
            f"broker restarts ({endpoint.transport}): {N_READINGS} published, "
            f"{N_READINGS} stored, 0 lost"
        )
