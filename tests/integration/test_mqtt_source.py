"""MqttSource against a real Mosquitto: order, manual acks, persistent session.

Each test runs with both readers (``[mqtt] reader``) over plain TCP and over TLS
with client certificates required by the broker.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest

from envmon.ingest.config import MqttSettings
from envmon.ingest.mqtt import MqttSource
from tests.support.mqtt_endpoint import Endpoint, wait_client_gone
from tests.support.mqtt_messages import Message, each_message
from tests.support.servers import free_port

pytestmark = pytest.mark.integration

TOPIC = "fac/site1/R1/climate/TH1"


class _Collector:
    """Receives messages on paho's thread and hands them to the test thread."""

    def __init__(self) -> None:
        self.messages: queue.Queue[Message] = queue.Queue()
        self.connections: list[tuple[bool, str]] = []

    def __call__(self, msg: Message) -> None:
        self.messages.put(msg)

    def on_connection(self, connected: bool, reason: str) -> None:
        self.connections.append((connected, reason))

    def take(self, n: int, timeout_s: float = 60.0) -> list[Message]:
        out: list[Message] = []
        deadline = time.monotonic() + timeout_s
        while len(out) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                out.append(self.messages.get(timeout=remaining))
            except queue.Empty:
                break
        return out

    def quiet(self, seconds: float) -> list[Message]:
        """Whatever else arrives within ``seconds``."""
        return self.take(10**9, timeout_s=seconds)


def _settings(
    endpoint: Endpoint, reader: str = "auto", client_id: str = "envmon-test"
) -> MqttSettings:
    return MqttSettings(
        **endpoint.settings(),
        client_id=client_id,
        topics=["fac/#"],
        reader=reader,
        reconnect_min_s=0.2,
        reconnect_max_s=1.0,
    )


def _connected_client(endpoint: Endpoint, client_id: str) -> paho.Client:
    client = endpoint.client(client_id)
    client.connect("127.0.0.1", endpoint.port)
    client.loop_start()
    return client


@pytest.fixture
def publisher(endpoint: Endpoint) -> Iterator[paho.Client]:
    client = _connected_client(endpoint, "test-publisher")
    yield client
    client.disconnect()
    client.loop_stop()


def _publish(client: paho.Client, payloads: list[bytes]) -> None:
    infos = [client.publish(TOPIC, p, qos=1) for p in payloads]
    for info in infos:
        info.wait_for_publish(timeout=30)
        assert info.is_published()


def _start(settings: MqttSettings, collector: _Collector) -> MqttSource:
    source = MqttSource(settings, each_message(collector), collector.on_connection)
    source.start()
    assert source.wait_connected(20), "source did not connect"
    return source


class TestMqttSource:
    def test_many_messages_in_order(
        self, endpoint: Endpoint, reader: str, publisher: paho.Client
    ) -> None:
        """2 000 QoS-1 messages all arrive, in publish order, each with its mid and QoS."""
        collector = _Collector()
        source = _start(_settings(endpoint, reader), collector)
        try:
            payloads = [f"{i}".encode() for i in range(2000)]
            _publish(publisher, payloads)
            got = collector.take(2000)
            for msg in got:
                source.ack(msg.mid, msg.qos)
            assert [m.payload for m in got] == payloads
            assert all(m.topic == TOPIC and m.qos == 1 and m.received_ns > 0 for m in got)
            assert collector.connections[0] == (True, "connected")
            assert source.connected
        finally:
            source.stop()
        assert not source.connected

    def test_unacked_redelivered_acked_not(
        self, endpoint: Endpoint, reader: str, publisher: paho.Client
    ) -> None:
        """After a stop, a new source with the same client id gets exactly the unacked messages."""
        first = _Collector()
        source = _start(_settings(endpoint, reader), first)
        _publish(publisher, [f"m{i}".encode() for i in range(10)])
        got = first.take(10)
        assert len(got) == 10
        for msg in got[:4]:
            source.ack(msg.mid, msg.qos)
        source.stop()
        wait_client_gone(endpoint.broker, "envmon-test")

        second = _Collector()
        again = _start(_settings(endpoint, reader), second)
        try:
            redelivered = second.take(6, timeout_s=20) + second.quiet(1.5)
            assert [m.payload for m in redelivered] == [f"m{i}".encode() for i in range(4, 10)]
            for msg in redelivered:
                again.ack(msg.mid, msg.qos)
        finally:
            again.stop()
        wait_client_gone(endpoint.broker, "envmon-test", times=2)

        third = _Collector()
        last = _start(_settings(endpoint, reader), third)
        try:
            assert third.quiet(1.5) == [], "acked messages came back"
        finally:
            last.stop()

    def test_published_while_stopped_arrive_later(
        self, endpoint: Endpoint, reader: str, publisher: paho.Client
    ) -> None:
        """Messages published while the source is stopped wait in the persistent session."""
        collector = _Collector()
        _start(_settings(endpoint, reader, "envmon-offline"), collector).stop()
        payloads = [f"offline-{i}".encode() for i in range(300)]
        _publish(publisher, payloads)

        later = _Collector()
        source = _start(_settings(endpoint, reader, "envmon-offline"), later)
        try:
            got = later.take(300)
            for msg in got:
                source.ack(msg.mid, msg.qos)
            assert [m.payload for m in got] == payloads
        finally:
            source.stop()

    def test_callback_exception_does_not_kill_loop(
        self,
        endpoint: Endpoint,
        reader: str,
        publisher: paho.Client,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """An exception in the message callback is logged and later messages still arrive."""
        collector = _Collector()

        def flaky(msg: Message) -> None:
            if msg.payload == b"boom":
                raise RuntimeError("callback failed")
            collector(msg)

        source = MqttSource(_settings(endpoint, reader), each_message(flaky))
        source.start()
        assert source.wait_connected(20)
        try:
            with caplog.at_level(logging.ERROR, logger="envmon.ingest"):
                _publish(publisher, [b"boom"])
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and not any(
                    "error handling a read" in r.getMessage() for r in caplog.records
                ):
                    time.sleep(0.05)
                _publish(publisher, [b"after"])
                got = collector.take(1, timeout_s=20)
            assert [m.payload for m in got] == [b"after"]
            assert any("error handling a read" in r.getMessage() for r in caplog.records)
        finally:
            source.stop()

    def test_reconnects_after_broker_restart(
        self, endpoint: Endpoint, reader: str, publisher: paho.Client
    ) -> None:
        """When the broker comes back, the source reconnects and resubscribes by itself."""
        collector = _Collector()
        source = _start(_settings(endpoint, reader, "envmon-restart"), collector)
        try:
            endpoint.broker.restart()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not (
                source.connected and len(collector.connections) >= 3
            ):
                time.sleep(0.1)
            assert [c for c, _ in collector.connections] == [True, False, True]
            assert source.connected
            fresh = _connected_client(endpoint, "test-publisher-2")
            try:
                _publish(fresh, [b"after-restart"])
            finally:
                fresh.disconnect()
                fresh.loop_stop()
            got = collector.take(1, timeout_s=20)
            assert [m.payload for m in got] == [b"after-restart"]
        finally:
            source.stop()


class TestConnectionFailure:
    def test_refused_logged_as_one_line(self, caplog: pytest.LogCaptureFixture) -> None:
        """A refused connection is logged with host:port and the reason, without a traceback."""
        port = free_port()
        settings = MqttSettings(port=port, reconnect_min_s=0.2, reconnect_max_s=1.0)
        source = MqttSource(settings, lambda batch, received_ns: None)
        with caplog.at_level(logging.WARNING, logger="envmon.ingest"):
            source.start()
            assert not source.wait_connected(1.0)
            started = time.monotonic()
            source.stop()
        assert time.monotonic() - started < 5
        failures = [r for r in caplog.records if "cannot connect" in r.getMessage()]
        assert failures, caplog.text
        line = failures[0].getMessage()
        assert f"127.0.0.1:{port}" in line and "refused" in line.lower()
        assert failures[0].exc_info is None and "\n" not in line
