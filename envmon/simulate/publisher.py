"""Publishes simulated messages to an MQTT broker (paho-mqtt v2 API, QoS 1).

``Publisher`` owns the connection and bounds the messages in flight (sent but
not yet PUBACKed) so that ``--rate max`` cannot grow memory without limit.
``run_fleet`` paces the fleet's ticks against the wall clock.
"""

from __future__ import annotations

import os
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from envmon.errors import ServiceUnavailable
from envmon.ingest.config import MqttSettings
from envmon.simulate.fleet import Fleet

CONNECT_TIMEOUT_S = 10.0


class Publisher:
    """A QoS 1 publisher that blocks while ``max_in_flight`` messages await PUBACK."""

    def __init__(self, settings: MqttSettings, *, max_in_flight: int = 1000) -> None:
        self._where = f"{settings.host}:{settings.port}"
        self._settings = settings
        self._max_in_flight = max_in_flight
        self._acked = threading.Condition()
        self._sent = 0
        self._acked_count = 0
        self._connected = threading.Event()
        self._connect_reason: str | None = None
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"envmon-simulate-{os.getpid()}",
            clean_session=True,
        )
        self._client.max_inflight_messages_set(max_in_flight)
        self._client.max_queued_messages_set(0)
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._client.on_connect = self._on_connect
        self._client.on_publish = self._on_publish
        if settings.username is not None:
            password = settings.password.get_secret_value() if settings.password else None
            self._client.username_pw_set(settings.username, password)
        if settings.tls:
            self._client.tls_set(
                ca_certs=str(settings.ca_file) if settings.ca_file else None,
                certfile=str(settings.cert_file) if settings.cert_file else None,
                keyfile=str(settings.key_file) if settings.key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        try:
            self._connect_reason = None if not reason.is_failure else str(reason)
        except Exception:  # noqa: BLE001 - the paho thread must survive anything
            self._connect_reason = "unknown connect result"
        self._connected.set()

    def _on_publish(self, client: Any, userdata: Any, mid: Any, reason: Any, props: Any) -> None:
        with self._acked:
            self._acked_count += 1
            self._acked.notify_all()

    def connect(self) -> None:
        """Connect and start the network thread; ``ServiceUnavailable`` names the broker."""
        try:
            self._client.connect(self._settings.host, self._settings.port, keepalive=30)
        except (OSError, ValueError) as exc:
            raise ServiceUnavailable(f"cannot reach MQTT broker {self._where}: {exc}") from None
        self._client.loop_start()
        if not self._connected.wait(CONNECT_TIMEOUT_S):
            self.close()
            raise ServiceUnavailable(f"MQTT broker {self._where} did not answer CONNECT")
        if self._connect_reason is not None:
            self.close()
            raise ServiceUnavailable(
                f"MQTT broker {self._where} refused the connection: {self._connect_reason}"
            )

    def publish(self, topic: str, payload: str, *, retain: bool = False) -> None:
        """Queue one QoS 1 message, first waiting while too many are unacknowledged."""
        with self._acked:
            while self._sent - self._acked_count >= self._max_in_flight:
                self._acked.wait(1.0)
            self._sent += 1
        self._client.publish(topic, payload, qos=1, retain=retain)

    def flush(self, timeout_s: float) -> int:
        """Wait for every PUBACK; returns how many are still missing after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._acked:
            while self._acked_count < self._sent and time.monotonic() < deadline:
                self._acked.wait(0.1)
            return self._sent - self._acked_count

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@dataclass
class RunResult:
    readings: int = 0
    ticks: int = 0
    first_ns: int | None = None
    """The first tick's timestamp; None before any."""
    last_ns: int | None = None


def run_fleet(
    fleet: Fleet,
    publish: Callable[[str, str, bool], None],
    *,
    tick_period_s: float,
    duration_s: float | None,
    count: int | None,
    stop: threading.Event,
    wall_ns: Callable[[], int] = time.time_ns,
    monotonic: Callable[[], float] = time.monotonic,
    on_tick: Callable[[RunResult], None] | None = None,
) -> RunResult:
    """Publish tick after tick until ``duration_s``, ``count`` readings, or ``stop``.

    Tick k is due at k x ``tick_period_s`` after the start (0: as fast as
    possible); a late tick is sent at once, not skipped. Each tick is stamped
    with the wall clock, strictly later than the one before, so the alarm
    engine never sees a reading that is not newer than the last.
    """
    result = RunResult()
    started = monotonic()
    previous_ns: int | None = None
    while not stop.is_set():
        if duration_s is not None and monotonic() - started >= duration_s:
            break
        if count is not None and result.readings >= count:
            break
        due = started + result.ticks * tick_period_s
        if duration_s is not None and due - started >= duration_s:
            break
        if stop.wait(max(0.0, due - monotonic())):
            break
        ts_ns = wall_ns() // 1000 * 1000  # payloads carry microseconds
        if previous_ns is not None and ts_ns <= previous_ns:
            ts_ns = previous_ns + 1000
        for message in fleet.messages(ts_ns, previous_ns):
            is_reading = not message.retain
            if is_reading and count is not None and result.readings >= count:
                break
            publish(message.topic, message.payload, message.retain)
            result.readings += int(is_reading)
        previous_ns = ts_ns
        result.ticks += 1
        result.last_ns = ts_ns
        if result.first_ns is None:
            result.first_ns = ts_ns
        if on_tick is not None:
            on_tick(result)
    return result


def simulated_window(result: RunResult, tick_period_s: float) -> tuple[int, int] | None:
    """``[first tick, last tick + one period)``: the window a report of the run covers
    exactly (each sensor's expected samples are the ticks); None without ticks."""
    if result.first_ns is None or result.last_ns is None:
        return None
    return result.first_ns, result.last_ns + max(round(tick_period_s * 1e9), 1000)


def tick_period_s(interval_s: float, rate: float | None, sensors: int) -> float:
    """Seconds between ticks: the interval, or what ``rate`` readings/s of ``sensors`` need."""
    if rate is None:
        return interval_s
    if rate == float("inf"):
        return 0.0
    return max(sensors, 1) / rate
