"""The retained alarm topic on a real Mosquitto is readable by a late subscriber."""

from __future__ import annotations

import queue
import uuid
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from envmon.notify import MqttAlarmPublisher, alarm_payload
from tests.support.journal_samples import T0, S, acked, alarm, raised
from tests.support.servers import Mosquitto

pytestmark = pytest.mark.integration


def client(port: int) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}")
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


@pytest.fixture
def publisher_client(mosquitto: Mosquitto) -> Iterator[mqtt.Client]:
    c = client(mosquitto.port)
    yield c
    c.loop_stop()
    c.disconnect()


class TestRetainedAlarmTopic:
    def test_late_subscriber_sees_the_latest_transition(
        self, mosquitto: Mosquitto, publisher_client: mqtt.Client
    ) -> None:
        """After raise then ack, a subscriber arriving later gets the acked alarm, retained."""

        def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
            publisher_client.publish(topic, payload, qos, retain).wait_for_publish(10)

        publisher = MqttAlarmPublisher(publish, "fac")
        a = alarm("A1")
        publisher.send(raised(a))
        last = acked(a, T0 + 30 * S)
        assert publisher.publish(last) is True

        received: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        late = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="late")
        late.on_message = lambda c, u, m: received.put(m)
        late.on_connect = lambda c, u, f, rc, p: c.subscribe("fac/+/envmon/alarms/#", qos=1)
        late.connect("127.0.0.1", mosquitto.port)
        late.loop_start()
        try:
            msg = received.get(timeout=10)
        finally:
            late.loop_stop()
            late.disconnect()
        assert msg.topic == "fac/site1/envmon/alarms/FILL-A/particles_5_0um"
        assert msg.retain
        assert msg.qos == 1
        assert msg.payload == alarm_payload(last.alarm)
        assert received.empty()
