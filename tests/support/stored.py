"""What a test published against what InfluxDB 1.x holds: every reading, exactly.

Readings are tests/support/fleet.py's (unique sensor and ms timestamp each), so
the stored points can be compared with the sent ones as dictionaries.
"""

from __future__ import annotations

import time

from tests.support.fleet import FIELDS_BY_KIND, SentReading
from tests.support.servers import InfluxDB1

Points = dict[tuple[str, str, int], dict[str, float]]
"""(kind, sensor, ts_ms) -> fields."""


def influx_points(influx: InfluxDB1) -> Points:
    """Every stored reading; fails on a timestamp that is not ms-exact."""
    out: Points = {}
    for kind, fields in FIELDS_BY_KIND.items():
        cols = ", ".join(f'"{f}"' for f in fields)
        res = influx.query(f'SELECT {cols} FROM "{kind}" GROUP BY "sensor"')["results"][0]
        for series in res.get("series", []):
            sensor = series["tags"]["sensor"]
            for row in series["values"]:
                ts_ns = row[0]
                assert ts_ns % 1_000_000 == 0, f"timestamp {ts_ns} not ms-exact"
                out[(kind, sensor, ts_ns // 1_000_000)] = dict(zip(fields, row[1:], strict=True))
    return out


def expected_points(sent: list[SentReading]) -> Points:
    return {(r.kind, r.sensor, r.ts_ms): r.fields for r in sent}


def stored_count(influx: InfluxDB1) -> int:
    """Readings stored, over every measurement of the fleet."""
    return sum(influx.count(kind, fields[0]) for kind, fields in FIELDS_BY_KIND.items())


def wait_for_count(influx: InfluxDB1, n: int, timeout_s: float = 90.0) -> int:
    """The stored count once it reaches ``n`` and has settled for a second (a late
    duplicate would show as a count above ``n``), or the count at the timeout."""
    deadline = time.monotonic() + timeout_s
    got = 0
    while time.monotonic() < deadline:
        got = stored_count(influx)
        if got >= n:
            time.sleep(1.0)
            return stored_count(influx)
        time.sleep(0.5)
    return got


def wait_all_stored(influx: InfluxDB1, n: int, timeout_s: float) -> tuple[int, float]:
    """Poll every 0.1 s until ``n`` readings are stored: (count, monotonic time when
    first seen complete); the count is below ``n`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        got, now = stored_count(influx), time.monotonic()
        if got >= n or now > deadline:
            return got, now
        time.sleep(0.1)
