"""Readings at a low rate are not held in the broker (``ingest/tcp_acks.py``).

Mosquitto sends with Nagle's algorithm, and a client whose TCP acknowledgements
the kernel delays (envmon's PUBACKs wait for durability) gets small readings
tens of milliseconds late. Here MqttSource, against a real Mosquitto over
plain TCP and TLS with both readers, takes a reading every 20 ms and
acknowledges in bulk once a second, as the service does; each reading's wait
from its publish to envmon's read is timed. With the default settings no
reading waits long; with ``batch_above_per_s = 0`` (the kernel's delayed
acknowledgements, as before) some do, which shows the test can tell.
"""

from __future__ import annotations

import statistics
import threading
import time

import pytest

from envmon.ingest.config import MqttSettings
from envmon.ingest.mqtt import MqttSource
from tests.support.mqtt_endpoint import Endpoint
from tests.support.mqtt_messages import Message, each_message
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

TOPIC = "fac/site1/R1/climate/TH1"
READINGS = 250
WARM_UP = 10
"""The first readings pay for the publisher's own start, and are not counted."""
EVERY_S = 0.02
ACK_EVERY_S = 1.0
EPISODE_GAP = 5
"""Held readings at most this many apart are one episode (100 ms at 20 ms each)."""
HELD_MS = 20.0
"""A reading that waited this long was held back: Linux delays an acknowledgement
by 40 ms at first, and a reading that goes at once takes 1-3 ms here."""


class _Timed:
    """Each reading's wait (ms), from the publish time in its payload to the read."""

    def __init__(self) -> None:
        self.waits_ms: list[float] = []
        self.to_ack: list[tuple[int, int]] = []
        self.lock = threading.Lock()

    def __call__(self, msg: Message) -> None:
        with self.lock:
            self.waits_ms.append((msg.received_ns - int(msg.payload)) / 1e6)
            self.to_ack.append((msg.mid, msg.qos))

    def take_acks(self) -> list[tuple[int, int]]:
        with self.lock:
            acks, self.to_ack = self.to_ack, []
        return acks


def _waits(endpoint: Endpoint, reader: str, batch_above_per_s: float) -> list[float]:
    timed = _Timed()
    settings = MqttSettings(
        **endpoint.settings(),
        client_id="envmon-quick-ack",
        topics=["fac/#"],
        reader=reader,
        batch_above_per_s=batch_above_per_s,
    )
    source = MqttSource(settings, each_message(timed))
    source.start()
    publisher = endpoint.client("publisher")
    try:
        assert source.wait_connected(15)
        publisher.connect("127.0.0.1", endpoint.port)
        publisher.loop_start()
        start = time.monotonic()
        next_ack = start + ACK_EVERY_S
        for i in range(READINGS):
            publisher.publish(TOPIC, str(time.time_ns()).encode(), qos=1)
            if time.monotonic() >= next_ack:
                source.ack_many(timed.take_acks())
                next_ack += ACK_EVERY_S
            # Pacing the publisher, not waiting for a result.
            time.sleep(max(0.0, start + (i + 1) * EVERY_S - time.monotonic()))
        wait_until(lambda: len(timed.waits_ms) >= READINGS, 10, "every reading")
        source.ack_many(timed.take_acks())
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        source.stop()
    assert len(timed.waits_ms) == READINGS
    return timed.waits_ms[WARM_UP:]


def _held_episodes(waits: list[float]) -> list[list[float]]:
    """Runs of held readings: a stall of the whole machine holds several readings in
    a row (each published 20 ms after the last), the broker's wait one at a time."""
    episodes: list[list[float]] = []
    last = -10
    for i, wait in enumerate(waits):
        if wait < HELD_MS:
            continue
        if i - last <= EPISODE_GAP:
            episodes[-1].append(round(wait, 1))
        else:
            episodes.append([round(wait, 1)])
        last = i
    return episodes


def test_held_episodes_group_readings_in_a_row() -> None:
    """Held readings close together are one episode; a second apart, two."""
    waits = [1.0] * 60
    waits[5:9] = [80.0, 60.0, 40.0, 21.0]
    waits[10] = 25.0
    waits[55] = 23.0
    assert _held_episodes(waits) == [[80.0, 60.0, 40.0, 21.0, 25.0], [23.0]]


def test_low_rate_readings_are_not_held(endpoint: Endpoint, reader: str) -> None:
    waits = _waits(endpoint, reader, batch_above_per_s=500)
    episodes = _held_episodes(waits)
    # One slow moment of a loaded machine may pass; a held reading every second would not.
    assert len(episodes) <= 1, f"held: {episodes}; median {statistics.median(waits):.1f} ms"


def test_with_delayed_acks_readings_are_held(endpoint: Endpoint) -> None:
    waits = _waits(endpoint, "auto", batch_above_per_s=0)
    episodes = _held_episodes(waits)
    # One after each bulk acknowledgement, in the kernel's first 40 ms step.
    assert len(episodes) >= 2, (
        f"held: {episodes}; max {max(waits):.1f}, median {statistics.median(waits):.1f} ms"
    )
