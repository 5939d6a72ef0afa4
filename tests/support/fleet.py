"""Test fleets: a facility file of N sensors and the exact readings they publish.

Every reading has a unique (sensor, timestamp) and a value that encodes both,
so what comes back from InfluxDB can be compared to what was sent, exactly.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

KINDS = ("particles", "climate", "pressure")


@dataclass(frozen=True)
class SentReading:
    topic: str
    payload: bytes
    kind: str
    sensor: str
    room: str
    ts_ms: int
    fields: dict[str, float]


def facility_toml(n_sensors: int, site: str = "site1", sensors_per_room: int = 4) -> str:
    """Grade C rooms (no limit will fire on test values), sensors cycling over kinds."""
    n_rooms = (n_sensors + sensors_per_room - 1) // sensors_per_room
    out = [f'site = "{site}"', ""]
    for r in range(n_rooms):
        out += ["[[rooms]]", f'id = "R{r:03d}"', 'grade = "C"', ""]
    for s in range(n_sensors):
        kind = KINDS[s % len(KINDS)]
        out += [
            "[[sensors]]",
            f'id = "S{s:04d}"',
            f'room = "R{s // sensors_per_room:03d}"',
            f'kind = "{kind}"',
            "interval_s = 1",
            "stale_after_s = 3600",
            "",
        ]
    return "\n".join(out)


def readings(
    n_sensors: int,
    n_total: int,
    site: str = "site1",
    prefix: str = "fac",
    start_ms: int | None = None,
    sensors_per_room: int = 4,
) -> list[SentReading]:
    """``n_total`` readings, round-robin over sensors, 1 s apart per sensor, ms-exact."""
    base = start_ms if start_ms is not None else (int(time.time()) - 3 * 3600) * 1000
    out = []
    for i in range(n_total):
        s, k = i % n_sensors, i // n_sensors
        kind = KINDS[s % len(KINDS)]
        sensor, room = f"S{s:04d}", f"R{s // sensors_per_room:03d}"
        ts_ms = base + k * 1000 + s  # unique per sensor; ms so VictoriaMetrics keeps it exact
        v = round(s + k / 1000, 3)
        # Short decimals: exact through JSON, InfluxDB and VictoriaMetrics (12 digits).
        if kind == "particles":
            p05 = round(1000 + v, 3)
            payload = {"ts": ts_ms / 1000, "per_m3": {"0.5": p05, "5.0": v}}
            fields = {"particles_0_5um": p05, "particles_5_0um": v}
        elif kind == "climate":
            t = round(20 + v / 1000, 6)
            payload = {"ts": ts_ms / 1000, "temperature_c": t, "humidity_pct": 40.0}
            fields = {"temperature": t, "humidity": 40.0}
        else:
            dp = round(10 + v / 1000, 6)
            payload = {"ts": ts_ms / 1000, "diff_pressure_pa": dp}
            fields = {"diff_pressure": dp}
        topic = f"{prefix}/{site}/{room}/{kind}/{sensor}"
        out.append(
            SentReading(topic, json.dumps(payload).encode(), kind, sensor, room, ts_ms, fields)
        )
    return out


def write_facility(path: Path, n_sensors: int) -> Path:
    path.write_text(facility_toml(n_sensors))
    return path


ALARM_HIGH_PER_M3 = 10_000.0
"""≥0.5 µm counts/m³ far above Grade A's action limit (3 520): alarms at once."""
ALARM_LOW_PER_M3 = 10.0


def alarm_rooms_toml(n_rooms: int, first: int = 0) -> str:
    """Grade A rooms ``AL<i>`` with one particle counter ``AP<i>`` each, to append to a
    facility file: one reading of ``ALARM_HIGH_PER_M3`` there raises an action alarm."""
    out: list[str] = []
    for i in range(first, first + n_rooms):
        out += ["[[rooms]]", f'id = "AL{i:03d}"', 'grade = "A"', ""]
    for i in range(first, first + n_rooms):
        out += [
            "[[sensors]]",
            f'id = "AP{i:03d}"',
            f'room = "AL{i:03d}"',
            'kind = "particles"',
            "interval_s = 60",
            "stale_after_s = 3600",
            "",
        ]
    return "\n".join(out)


def alarm_readings(
    n_rooms: int, per_room: int, start_ms: int, site: str = "site1", prefix: str = "fac"
) -> list[SentReading]:
    """Readings of ``alarm_rooms_toml``'s counters, alternating high and low (starting
    and, for an odd ``per_room``, ending high), 100 ms apart per counter, rooms
    interleaved; each high one raises an action alarm, each low one clears it."""
    out = []
    for k in range(per_room):
        for i in range(n_rooms):
            sensor, room = f"AP{i:03d}", f"AL{i:03d}"
            ts_ms = start_ms + k * 100 + i
            p05 = ALARM_HIGH_PER_M3 if k % 2 == 0 else ALARM_LOW_PER_M3
            payload = {"ts": ts_ms / 1000, "per_m3": {"0.5": p05, "5.0": 0.0}}
            fields = {"particles_0_5um": p05, "particles_5_0um": 0.0}
            topic = f"{prefix}/{site}/{room}/particles/{sensor}"
            out.append(
                SentReading(
                    topic, json.dumps(payload).encode(), "particles", sensor, room, ts_ms, fields
                )
            )
    return out


def interleave(main: list[SentReading], other: list[SentReading]) -> list[SentReading]:
    """``other`` spread evenly through ``main``, each list's order kept."""
    if not other:
        return list(main)
    step = max(1, len(main) // len(other))
    out: list[SentReading] = []
    rest = iter(other)
    pending = len(other)
    for i, reading in enumerate(main):
        if pending and i % step == 0:
            out.append(next(rest))
            pending -= 1
        out.append(reading)
    out.extend(rest)
    return out
