"""Alarm latency: publish → retained alarm topic, at known times, under load.

Each injection is one particle reading of 10 000 counts/m³ (≥0.5 µm) in its own
Grade A room (action limit 3 520, no delay), timestamped now: the engine
raises an action alarm on that single reading, and envmon publishes it on
``<prefix>/<site>/envmon/alarms/<room>/particles_0_5um``. Latency is the
subscriber's receive time minus the injector's publish time (one clock).
Other alarm sources (bench/naive_bridge.py) can be watched on their own
topics in the same run: each gets its own latencies for the same injections.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

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


ENVMON: Final = "envmon"


class AlarmProbe:
    """A subscriber on the alarm topics of each source and an injector, on one paho
    client each. ``sources``: name → topic filter of its alarms (default: envmon's)."""

    def __init__(
        self, port: int, prefix: str = "fac", sources: Mapping[str, str] | None = None
    ) -> None:
        self._prefix = prefix
        self._sources = dict(sources or {ENVMON: f"{prefix}/{SITE}/envmon/alarms/#"})
        self._sent_ns: dict[str, int] = {}
        self._recv_ns: dict[str, dict[str, int]] = {name: {} for name in self._sources}
        self._lock = threading.Lock()
        self._sub = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-alarm-sub")
        for name, topic_filter in self._sources.items():
            self._sub.message_callback_add(topic_filter, self._on_alarm_of(name))
        self._sub.connect("127.0.0.1", port)
        self._sub.subscribe([(f, 1) for f in self._sources.values()])
        self._sub.loop_start()
        self._pub = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-alarm-pub")
        self._pub.connect("127.0.0.1", port)
        self._pub.loop_start()

    def _on_alarm_of(self, source: str) -> Any:
        received = self._recv_ns[source]

        def on_alarm(client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
            now = time.time_ns()
            try:
                alarm = json.loads(msg.payload)
            except ValueError:
                return
            if alarm.get("level") == "action" and alarm.get("state") == "active_unacked":
                with self._lock:
                    # Only rooms injected by this probe: an earlier phase's alarms stay
                    # active and come back retained on subscribing.
                    if alarm["room"] in self._sent_ns:
                        received.setdefault(alarm["room"], now)

        return on_alarm

    def run(
        self, injections: int, interval_s: float, first_room: int = 0
    ) -> dict[str, LatencyResult]:
        """Inject ``injections`` alarms ``interval_s`` apart, in rooms from
        ``first_room`` on; wait for them; each source's latencies."""
        if first_room + injections > ALARM_ROOMS:
            raise ValueError(f"at most {ALARM_ROOMS} alarm rooms (one per injection)")
        t0 = time.monotonic()
        for i in range(injections):
            delay = t0 + i * interval_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            room, sensor = f"AL{first_room + i:03d}", f"AP{first_room + i:03d}"
            now = time.time_ns()
            payload = {"ts": round(now / 1e9, 3), "per_m3": {"0.5": 10000.0, "5.0": 0.0}}
            with self._lock:
                self._sent_ns[room] = now
            self._pub.publish(
                f"{self._prefix}/{SITE}/{room}/particles/{sensor}", json.dumps(payload), qos=1
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with self._lock:
                if all(len(r) >= injections for r in self._recv_ns.values()):
                    break
            time.sleep(0.1)
        with self._lock:
            return {
                name: _latencies(self._sent_ns, received, injections)
                for name, received in self._recv_ns.items()
            }

    def close(self) -> None:
        for c in (self._pub, self._sub):
            c.disconnect()
            c.loop_stop()


def _latencies(sent_ns: dict[str, int], recv_ns: dict[str, int], injected: int) -> LatencyResult:
    ordered = [(recv_ns[r] - t) / 1e6 if r in recv_ns else None for r, t in sent_ns.items()]
    lat = sorted(x for x in ordered if x is not None)
    return LatencyResult(injected, len(lat), lat, ordered)


def slowest(res: LatencyResult, n: int) -> str:
    """The ``n`` slowest alarms as "ms #injection", to tell a start-up cost from a stall."""
    worst = sorted(
        ((ms, i) for i, ms in enumerate(res.by_injection_ms) if ms is not None), reverse=True
    )[:n]
    return ", ".join(f"{ms:.0f} #{i}" for ms, i in worst)


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list (nan when empty)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * pct // 100))
    return sorted_values[int(rank) - 1]
