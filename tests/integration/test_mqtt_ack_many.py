"""MqttSource.ack_many and buffered reads against a real Mosquitto, with each reader
(``[mqtt] reader``) over plain TCP and TLS."""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest

from envmon.ingest import _paho_fast
from envmon.ingest.config import MqttSettings
from envmon.ingest.mqtt import MqttSource
from tests.support.mqtt_endpoint import Endpoint, wait_client_gone
from tests.support.mqtt_messages import Message, each_message
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

TOPIC = "fac/site1/R1/climate/TH1"
PROBE = "fac/site1/R1/climate/PROBE"
BACKLOG = 15_000


def _settings(endpoint: Endpoint, reader: str) -> MqttSettings:
    return MqttSettings(
        **endpoint.settings(),
        client_id="envmon-ack-many",
        topics=["fac/#"],
        reader=reader,
        reconnect_min_s=0.2,
        reconnect_max_s=1.0,
    )


@pytest.fixture
def publisher(endpoint: Endpoint) -> Iterator[paho.Client]:
    client = endpoint.client("test-publisher")
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", endpoint.port)
    client.loop_start()
    yield client
    client.disconnect()
    client.loop_stop()


class _Source:
    """A started MqttSource, subscribed for sure; probe messages acked and left out."""

    def __init__(
        self,
        endpoint: Endpoint,
        reader: str,
        publisher: paho.Client,
        handle_delay_s: float = 0.0,
    ) -> None:
        self._delay_s = handle_delay_s
        self.messages: queue.Queue[Message] = queue.Queue()
        self._probes: queue.Queue[Message] = queue.Queue()
        self.source = MqttSource(_settings(endpoint, reader), each_message(self._route))
        self.source.start()
        assert self.source.wait_connected(20)
        # "Connected" comes before the SUBACK: probe until a probe comes back.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            publisher.publish(PROBE, b"probe", qos=1).wait_for_publish(5)
            try:
                self._probes.get(timeout=0.5)
                break
            except queue.Empty:
                continue

    def _route(self, msg: Message) -> None:
        if msg.topic == PROBE:
            self.source.ack(msg.mid, msg.qos)  # out of order with the rest: brokers accept it
            self._probes.put(msg)
        else:
            if self._delay_s:
                time.sleep(self._delay_s)
            self.messages.put(msg)

    def take(self, n: int, timeout_s: float = 30.0) -> list[Message]:
        out: list[Message] = []
        deadline = time.monotonic() + timeout_s
        while len(out) < n and time.monotonic() < deadline:
            try:
                out.append(self.messages.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return out

    def stop(self) -> None:
        self.source.stop()


def _publish(client: paho.Client, payloads: list[bytes]) -> None:
    infos = [client.publish(TOPIC, p, qos=1) for p in payloads]
    for info in infos:
        info.wait_for_publish(timeout=30)
        assert info.is_published()


class TestAckMany:
    def test_all_acked_in_one_call_never_come_back(
        self, endpoint: Endpoint, reader: str, publisher: paho.Client
    ) -> None:
        """500 messages acked by one ack_many are not redelivered to the next session."""
        first = _Source(endpoint, reader, publisher)
        payloads = [f"m{i}".encode() for i in range(500)]
        _publish(publisher, payloads)
        got = first.take(500)
        assert [m.payload for m in got] == payloads
        first.source.ack_many([(m.mid, m.qos) for m in got])
        first.stop()
        wait_client_gone(endpoint.broker, "envmon-ack-many")

        second = _Source(endpoint, reader, publisher)
        try:
            assert second.take(1, timeout_s=1.5) == [], "acked messages came back"
        finally:
            second.stop()

    def test_unacked_tail_redelivered_in_order(
        self, endpoint: Endpoint, reader: str, publisher: paho.Client
    ) -> None:
        """After acking the first 100 of 300, exactly the other 200 come back, in order."""
        first = _Source(endpoint, reader, publisher)
        payloads = [f"m{i}".encode() for i in range(300)]
        _publish(publisher, payloads)
        got = first.take(300)
        assert len(got) == 300
        first.source.ack_many([(m.mid, m.qos) for m in got[:100]])
        first.stop()
        wait_client_gone(endpoint.broker, "envmon-ack-many")

        second = _Source(endpoint, reader, publisher)
        try:
            again = second.take(200) + second.take(1, timeout_s=1.0)
            assert [m.payload for m in again] == payloads[100:]
            second.source.ack_many([(m.mid, m.qos) for m in again])
        finally:
            second.stop()


class TestBufferedReads:
    def test_sizes_across_chunk_boundaries_arrive_intact(
        self, endpoint: Endpoint, reader: str, publisher: paho.Client
    ) -> None:
        """Messages of 1 B to 3 read chunks arrive byte for byte and in order."""
        rng = random.Random(7)
        sizes = [1, 2, 127, 128, 16383, 16384, 16385, 3 * _paho_fast.RECV_CHUNK_BYTES]
        sizes += [rng.randrange(1, 40_000) for _ in range(300)]
        payloads = [rng.randbytes(n) for n in sizes]
        src = _Source(endpoint, reader, publisher)
        try:
            _publish(publisher, payloads)
            got = src.take(len(payloads))
            src.source.ack_many([(m.mid, m.qos) for m in got])
            assert [m.payload for m in got] == payloads
        finally:
            src.stop()

    def test_outgoing_not_starved_by_a_backlog(
        self, endpoint: Endpoint, reader: str, publisher: paho.Client
    ) -> None:
        """While a backlog of readings is being read, a message published goes out
        before the backlog is read, not after it."""
        seen = threading.Event()
        unread_when_seen: list[int] = []
        slow: _Source | None = None

        def on_message(client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
            assert slow is not None
            unread_when_seen.append(BACKLOG - slow.messages.qsize())
            seen.set()

        watcher = endpoint.client("test-watcher")
        watcher.on_message = on_message
        watcher.connect("127.0.0.1", endpoint.port)
        watcher.subscribe("fac/site1/envmon/alarms/#", qos=1)
        watcher.loop_start()
        # Slower than the publisher: the socket fills up.
        slow = _Source(endpoint, reader, publisher, handle_delay_s=0.0003)
        try:
            infos = [publisher.publish(TOPIC, b"x" * 100, qos=1) for _ in range(BACKLOG)]
            wait_until(
                lambda: sum(i.is_published() for i in infos) >= BACKLOG // 3,
                30,
                "the broker holding thousands of readings for the source",
            )
            assert slow.messages.qsize() < BACKLOG - 1_000, "no backlog built up"
            sent = time.monotonic()
            slow.source.publish("fac/site1/envmon/alarms/R1/temperature", b"{}", qos=1)
            assert seen.wait(30)
            delay_s = time.monotonic() - sent
            # How long it takes depends on how fast this machine reads; starved, it
            # would go out only once (nearly) every reading was read.
            assert unread_when_seen[0] >= 1_000, (
                f"outgoing message waited {delay_s:.1f} s, until only "
                f"{unread_when_seen[0]} readings were unread"
            )
            for info in infos:
                info.wait_for_publish(timeout=60)
        finally:
            slow.stop()
            watcher.disconnect()
            watcher.loop_stop()
