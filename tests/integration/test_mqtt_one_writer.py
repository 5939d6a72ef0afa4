"""One writer per socket: every packet MqttSource sends leaves from its network thread.

Under load, with PUBACK batches from one thread and publishes from another, and a
small socket send buffer (so that writes are cut short and must be resumed), each
reader over plain TCP and TLS: every socket write happens on the network thread,
the PUBACKs go out in arrival order, and the broker gets every packet intact.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import paho.mqtt.client as paho
import pytest

from envmon.ingest import _mqtt_frames
from envmon.ingest.config import MqttSettings
from envmon.ingest.mqtt import Delivery, MqttSource
from tests.support.mqtt_endpoint import Endpoint, wait_client_gone
from tests.support.wait import wait_for, wait_until

pytestmark = pytest.mark.integration

CLIENT_ID = "envmon-one-writer"
NETWORK_THREAD = "envmon-mqtt"
READINGS = 6000
PUBLISHES = 300
OUT_TOPIC = "out/alarms"


@dataclass(frozen=True)
class Write:
    thread: str
    sent: bytes
    asked: int
    """Bytes the write was given; more than ``sent`` when the socket took only part
    (or, over TLS, nothing: the record is written again later)."""


class SendRecorder:
    """Records every socket write of the client ``CLIENT_ID`` (paho's ``_sock_send``:
    the plaintext, before TLS), with the thread that made it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.writes: list[Write] = []
        original = paho.Client._sock_send
        recorder = self

        def sock_send(client: paho.Client, buf: bytes | bytearray) -> int:
            ours = client._client_id == CLIENT_ID.encode()
            try:
                sent = original(client, buf)
            except BlockingIOError:  # TLS: a record the socket cannot take now
                if ours:
                    recorder.writes.append(Write(threading.current_thread().name, b"", len(buf)))
                raise
            if ours:
                recorder.writes.append(
                    Write(threading.current_thread().name, bytes(buf[:sent]), len(buf))
                )
            return sent

        monkeypatch.setattr(paho.Client, "_sock_send", sock_send)

    def stream(self) -> bytes:
        return b"".join(w.sent for w in self.writes)


def packets(stream: bytes) -> Iterator[tuple[int, bytes]]:
    """``(command byte, body)`` of each MQTT packet in ``stream``; fails on a cut one."""
    pos = 0
    while pos < len(stream):
        framed = _mqtt_frames.frame(stream, pos)
        assert framed is not None, f"a packet cut short or malformed at byte {pos}"
        start, end = framed
        yield stream[pos], stream[start:end]
        pos = end


def puback_mids(stream: bytes) -> list[int]:
    return [int.from_bytes(body[:2], "big") for cmd, body in packets(stream) if cmd == 0x40]


class _Source:
    """An MqttSource whose reads go to a queue; acks and publishes come from threads
    of their own, as the store and alarm threads of the service do."""

    def __init__(
        self,
        endpoint: Endpoint,
        reader: str,
        send_buffer: int | None,
        on_read: Callable[[list[Delivery]], None] = lambda batch: None,
    ) -> None:
        self.arrived: queue.Queue[list[Delivery]] = queue.Queue()
        self.arrival_mids: list[int] = []
        settings = MqttSettings(
            **endpoint.settings(),
            client_id=CLIENT_ID,
            topics=["fac/#"],
            reader=reader,
            socket_send_buffer_bytes=send_buffer,
            reconnect_min_s=0.2,
            reconnect_max_s=1.0,
        )

        def on_messages(batch: list[Delivery], received_ns: int) -> None:
            on_read(batch)  # on the network thread, as an alarm judged there
            self.arrived.put(batch)

        self.source = MqttSource(settings, on_messages)
        self.source.start()
        assert self.source.wait_connected(20)

    def ack_in_batches(self, count: int, rng: random.Random) -> None:
        """The store thread: ack what arrived, in order, in batches of varying size."""
        pending: list[tuple[int, int]] = []
        while len(self.arrival_mids) < count:
            for _, _, mid, qos in self.arrived.get(timeout=60):
                self.arrival_mids.append(mid)
                pending.append((mid, qos))
            if len(pending) >= rng.choice((1, 50, 700, 2500)) or len(self.arrival_mids) >= count:
                self.source.ack_many(pending)
                pending = []

    def publish_many(self, payloads: list[bytes]) -> None:
        """The alarm thread: retained QoS 1 publishes of a few kB each."""
        for i, payload in enumerate(payloads):
            self.source.publish(f"{OUT_TOPIC}/{i}", payload, qos=1, retain=True)


def _watcher_and_sensor(
    endpoint: Endpoint, received: dict[str, bytes]
) -> tuple[paho.Client, paho.Client]:
    """A client putting what arrives on ``OUT_TOPIC/#`` in ``received``, and one to
    publish readings with many in flight."""
    watcher = endpoint.client("test-watcher")
    watcher.on_message = lambda c, u, msg: received.__setitem__(msg.topic, bytes(msg.payload))
    watcher.connect("127.0.0.1", endpoint.port)
    watcher.subscribe(f"{OUT_TOPIC}/#", qos=1)
    watcher.loop_start()
    sensor = endpoint.client("test-sensor")
    sensor.max_inflight_messages_set(1000)
    sensor.connect("127.0.0.1", endpoint.port)
    sensor.loop_start()
    return watcher, sensor


def _close(*clients: paho.Client) -> None:
    for client in clients:
        client.disconnect()
        client.loop_stop()


def _run_in_thread(target: object, name: str, errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            target()  # type: ignore[operator]
        except Exception as exc:  # noqa: BLE001 (reported by the test thread)
            errors.append(exc)

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


@pytest.mark.parametrize("send_buffer", [None, 4096], ids=["kernel-buffer", "small-buffer"])
def test_only_the_network_thread_writes_and_acks_stay_in_order(
    endpoint: Endpoint, reader: str, send_buffer: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """6 000 readings acked from one thread in batches while another publishes 300
    messages of 3-6 kB (20-60 kB with the small buffer): every write is the network
    thread's, the PUBACK stream is the arrival order exactly, the written bytes frame
    into whole packets, every publish arrives intact, and nothing acked comes back to
    a new session."""
    recorder = SendRecorder(monkeypatch)
    rng = random.Random(13)
    # With the small buffer, messages larger than it: a broker that reads as fast as
    # envmon writes left 3-6 kB ones uncut on a fast machine, testing no resumption.
    low, high = (20_000, 60_000) if send_buffer else (3000, 6000)
    outgoing = [rng.randbytes(rng.randrange(low, high)) for _ in range(PUBLISHES)]
    received: dict[str, bytes] = {}
    watcher, sensor = _watcher_and_sensor(endpoint, received)
    src = _Source(endpoint, reader, send_buffer)
    errors: list[BaseException] = []
    try:
        infos = [
            sensor.publish(f"fac/site1/R1/climate/S{i % 7}", b"x" * rng.randrange(20, 200), qos=1)
            for i in range(READINGS)
        ]
        threads = [
            _run_in_thread(lambda: src.ack_in_batches(READINGS, rng), "store", errors),
            _run_in_thread(lambda: src.publish_many(outgoing), "alarms", errors),
        ]
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        for info in infos:
            info.wait_for_publish(timeout=60)
        wait_until(lambda: len(received) == PUBLISHES, timeout_s=60, what="every publish")
    finally:
        src.source.stop()
        _close(sensor, watcher)

    threads_that_wrote = {w.thread for w in recorder.writes}
    assert threads_that_wrote == {NETWORK_THREAD}
    assert puback_mids(recorder.stream()) == src.arrival_mids
    assert [received[f"{OUT_TOPIC}/{i}"] for i in range(PUBLISHES)] == outgoing
    if send_buffer is not None:
        assert any(len(w.sent) < w.asked for w in recorder.writes), "no write had to wait"

    wait_client_gone(endpoint.broker, CLIENT_ID)
    again = _Source(endpoint, reader, None)
    try:
        late = wait_for(lambda: again.arrived.qsize() or "nothing", timeout_s=1.5, poll_s=0.1)
    except AssertionError:
        late = "nothing"
    finally:
        again.source.stop()
    assert late == "nothing", "acknowledged readings were delivered again"


def test_a_packet_queued_by_another_thread_leaves_at_once(endpoint: Endpoint, reader: str) -> None:
    """With nothing arriving, a publish from another thread wakes the network thread:
    it reaches a subscriber in well under select()'s 1 s timeout, every time."""
    arrived: queue.Queue[float] = queue.Queue()
    watcher = endpoint.client("test-watcher")
    watcher.on_message = lambda c, u, msg: arrived.put(time.monotonic())
    watcher.connect("127.0.0.1", endpoint.port)
    watcher.subscribe(f"{OUT_TOPIC}/#", qos=1)
    watcher.loop_start()
    src = _Source(endpoint, reader, None)
    delays: list[float] = []
    try:
        for i in range(10):
            time.sleep(rng_delay(i))  # the network thread back in select(), idle
            sent = time.monotonic()
            src.source.publish(f"{OUT_TOPIC}/{i}", b"{}", qos=1)
            delays.append(arrived.get(timeout=5) - sent)
    finally:
        src.source.stop()
        watcher.disconnect()
        watcher.loop_stop()
    assert max(delays) < 0.25, f"delays (s): {[round(d, 3) for d in delays]}"


def rng_delay(i: int) -> float:
    """Pauses of 0.05 to 0.5 s, so publishes fall at every point of a select() wait."""
    return 0.05 + (i * 0.37) % 0.45


@pytest.mark.parametrize("send_buffer", [None, 4096], ids=["kernel-buffer", "small-buffer"])
def test_a_publish_made_while_reading_is_written_at_once_and_intact(
    endpoint: Endpoint, reader: str, send_buffer: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An alarm judged on the network thread (``AlarmWorker.judge`` when idle) is
    published from inside the read: written there and then, before the read is
    done, while another thread acks in batches; the stream stays whole and ordered.
    Before, it waited for the read to end and another round of select()."""
    recorder = SendRecorder(monkeypatch)
    rng = random.Random(17)
    published: dict[str, bytes] = {}
    at_once: list[bool] = []
    src: _Source | None = None

    def alarm_on_read(batch: list[Delivery]) -> None:
        assert src is not None
        for delivery in batch:
            if delivery.mid % 10:
                continue
            topic = f"{OUT_TOPIC}/inline/{len(published)}"
            published[topic] = rng.randbytes(rng.randrange(300, 3000))
            before = len(recorder.writes)
            src.source.publish(topic, published[topic], qos=1, retain=True)
            at_once.append(any(topic.encode() in w.sent for w in recorder.writes[before:]))

    received: dict[str, bytes] = {}
    watcher, sensor = _watcher_and_sensor(endpoint, received)
    src = _Source(endpoint, reader, send_buffer, on_read=alarm_on_read)
    errors: list[BaseException] = []
    count = READINGS // 2
    try:
        infos = [
            sensor.publish(f"fac/site1/R1/climate/S{i % 7}", b"x" * rng.randrange(20, 200), qos=1)
            for i in range(count)
        ]
        store = _run_in_thread(lambda: src.ack_in_batches(count, rng), "store", errors)
        store.join(timeout=120)
        assert not errors, errors
        for info in infos:
            info.wait_for_publish(timeout=60)
        wait_until(lambda: len(received) == len(published), timeout_s=60, what="every publish")
    finally:
        src.source.stop()
        _close(sensor, watcher)

    assert {w.thread for w in recorder.writes} == {NETWORK_THREAD}
    assert puback_mids(recorder.stream()) == src.arrival_mids
    assert received == published and len(published) >= count // 20
    if send_buffer is None:
        # paho keeps 20 QoS 1 publishes in flight: later ones wait for PUBACKs.
        assert all(at_once[:20]), f"{at_once[:20].count(False)} of the first 20 waited"
