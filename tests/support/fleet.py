"""Test fleets: a facility file of N sensors and the exact readings they publish.

Every reading has a unique (sensor, timestamp) and a value that encodes both,
so what comes back from InfluxDB can be compared to what was sent, exactly.
The fleet is mixed: sensors cycle over the three room kinds and equipment (a
sensor on its room's incubator, measuring the declared ``co2`` and the
built-in ``temperature``), as a cell-therapy site's are. bench/loadgen.c
publishes the same fleet.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

KINDS = ("particles", "climate", "pressure", "equipment")
FIELDS_BY_KIND = {
    "particles": ("particles_0_5um", "particles_5_0um"),
    "climate": ("temperature", "humidity"),
    "pressure": ("diff_pressure",),
    "equipment": ("co2", "temperature"),
}
"""The fields each kind's readings carry; the first is in every reading (for counting)."""


@dataclass(frozen=True)
class SentReading:
    topic: str
    payload: bytes
    kind: str
    sensor: str
    room: str
    ts_ms: int
    fields: dict[str, float]


def _placement(s: int, sensors_per_room: int) -> tuple[str, str, str]:
    """(kind, room, equipment) of sensor number ``s``."""
    room = s // sensors_per_room
    return KINDS[s % len(KINDS)], f"R{room:03d}", f"E{room:03d}"


def facility_toml(n_sensors: int, site: str = "site1", sensors_per_room: int = 4) -> str:
    """Grade C rooms and their incubators (no limit will fire on test values), sensors
    cycling over kinds. Equipment has a rate rule, so that channels carry one."""
    n_rooms = (n_sensors + sensors_per_room - 1) // sensors_per_room
    out = [
        f'site = "{site}"',
        "",
        "[[parameters]]",
        'id = "co2"',
        'unit = "%"',
        "range = [0, 100]",
        "",
    ]
    for r in range(n_rooms):
        # In operation, as a site's rooms are while it works: the strictest default (no
        # state known) would judge the fleet's values by the at-rest limits.
        out += [
            "[[rooms]]",
            f'id = "R{r:03d}"',
            'grade = "C"',
            'default_state = "in_operation"',
            "",
        ]
    with_equipment = sorted(
        {_placement(s, sensors_per_room)[1:] for s in range(n_sensors)
         if _placement(s, sensors_per_room)[0] == "equipment"}
    )  # fmt: skip
    for room, equipment in with_equipment:
        out += [
            "[[equipment]]",
            f'id = "{equipment}"',
            f'room = "{room}"',
            'type = "incubator"',
            "[equipment.limits.co2]",
            "action_high = 1000.0",
            "[equipment.limits.temperature]",
            "action_high = 150.0",
            "rate_per_min_high = 1000.0",
            "",
        ]
    for s in range(n_sensors):
        kind, room, equipment = _placement(s, sensors_per_room)
        placed = (
            [
                f'equipment = "{equipment}"',
                f'kind = "{kind}"',
                'parameters = ["co2", "temperature"]',
            ]
            if kind == "equipment"
            else [f'room = "{room}"', f'kind = "{kind}"']
        )
        out += [
            "[[sensors]]",
            f'id = "S{s:04d}"',
            *placed,
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
        kind, room, _ = _placement(s, sensors_per_room)
        sensor = f"S{s:04d}"
        ts_ms = base + k * 1000 + s  # unique per sensor; ms so VictoriaMetrics keeps it exact
        v = round(s + k / 1000, 3)
        # Short decimals: exact through JSON, InfluxDB and VictoriaMetrics (12 digits).
        payload: dict[str, object]
        if kind == "particles":
            p05 = round(1000 + v, 3)
            payload = {"ts": ts_ms / 1000, "per_m3": {"0.5": p05, "5.0": v}}
            fields = {"particles_0_5um": p05, "particles_5_0um": v}
        elif kind == "climate":
            t = round(20 + v / 1000, 6)
            payload = {"ts": ts_ms / 1000, "temperature_c": t, "humidity_pct": 40.0}
            fields = {"temperature": t, "humidity": 40.0}
        elif kind == "pressure":
            dp = round(10 + v / 1000, 6)
            payload = {"ts": ts_ms / 1000, "diff_pressure_pa": dp}
            fields = {"diff_pressure": dp}
        else:
            fields = {"co2": round(5 + v / 1000, 6), "temperature": round(37 + v / 1000, 6)}
            payload = {"ts": ts_ms / 1000, "values": fields}
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
