"""Alarm latency: publish → retained alarm topic, at known times, under load.

Each injection is one particle reading of 10 000 counts/m³ (≥0.5 µm) in its own
Grade A room (action limit 3 520, no delay), timestamped now: the engine
raises an action alarm on that single reading, and envmon publishes it on
``<prefix>/<site>/envmon/alarms/<room>/particles_0_5um``. Latency is the
subscriber's receive time minus the injector's publish time (one clock).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from bench.harness import ALARM_ROOMS, SITE


@dataclass(frozen=True)
class LatencyResult:
    injected: int
    received: int
    latencies_ms: list[float]
    """Ascending."""
    by_injection_ms: list[float | None]
    """In injection order (None: not seen), to tell a start-up cost from a stall."""


class AlarmProbe:
    """A subscriber on the alarm topics and an injector, on one paho client each."""

    def __init__(self, port: int, prefix: str = "fac") -> None:
        self._prefix = prefix
        self._sent_ns: dict[str, int] = {}
        self._recv_ns: dict[str, int] = {}
        self._lock = threading.Lock()
        self._sub = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-alarm-sub")
        self._sub.on_message = self._on_alarm
        self._sub.connect("127.0.0.1", port)
        self._sub.subscribe(f"{prefix}/{SITE}/envmon/alarms/#", qos=1)
        self._sub.loop_start()
        self._pub = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-alarm-pub")
        self._pub.connect("127.0.0.1", port)
        self._pub.loop_start()

    def _on_alarm(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        now = time.time_ns()
        try:
            alarm = json.loads(msg.payload)
        except ValueError:
            return
        if alarm.get("level") == "action" and alarm.get("state") == "active_unacked":
            with self._lock:
                self._recv_ns.setdefault(alarm["room"], now)

    def run(self, injections: int, interval_s: float) -> LatencyResult:
        """Inject ``injections`` alarms ``interval_s`` apart; wait for them; latencies."""
        if injections > ALARM_ROOMS:
            raise ValueError(f"at most {ALARM_ROOMS} injections (one room each)")
        t0 = time.monotonic()
        infos = []
        for i in range(injections):
            delay = t0 + i * interval_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            room, sensor = f"AL{i:03d}", f"AP{i:03d}"
            now = time.time_ns()
            payload = {"ts": round(now / 1e9, 3), "per_m3": {"0.5": 10000.0, "5.0": 0.0}}
            with self._lock:
                self._sent_ns[room] = now
            infos.append(
                self._pub.publish(
                    f"{self._prefix}/{SITE}/{room}/particles/{sensor}", json.dumps(payload), qos=1
                )
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with self._lock:
                if len(self._recv_ns) >= injections:
                    break
            time.sleep(0.1)
        with self._lock:
            ordered = [
                (self._recv_ns[r] - t) / 1e6 if r in self._recv_ns else None
                for r, t in self._sent_ns.items()
            ]
        lat = sorted(x for x in ordered if x is not None)
        return LatencyResult(injections, len(lat), lat, ordered)

    def close(self) -> None:
        for c in (self._pub, self._sub):
            c.disconnect()
            c.loop_stop()


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list (nan when empty)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * pct // 100))
    return sorted_values[int(rank) - 1]
