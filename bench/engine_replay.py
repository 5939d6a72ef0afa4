"""The pure alarm engine's replay rate: stored readings in, events out, no I/O.

The bench fleet's readings (as many as asked,
round-robin, 1 s apart per sensor) are built as ``Reading`` values first, then
fed to one ``AlarmEngine`` on one thread; only the feeding is timed, in two
parts: the first reading of each sensor (the engine builds its channels:
once per sensor and run) and all the others (the steady state, what a long
replay of stored readings is made of).

    python bench/engine_replay.py [--sensors 10000] [--readings 300000] [--json]

With ``ENVMON_SRC=DIR`` in the environment the engine comes from that source
tree (``bench/run.py --envmon-src`` runs it so); the fleet from this one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import facility_text  # imports no envmon module

if os.environ.get("ENVMON_SRC"):
    sys.path.insert(0, os.environ["ENVMON_SRC"])

from envmon.alarms.engine import AlarmEngine
from envmon.facility import parse_facility
from envmon.readings import NS_PER_S, Kind, Reading

T0_NS = 1_800_000_000 * NS_PER_S
_KINDS = (Kind.PARTICLES, Kind.CLIMATE, Kind.PRESSURE, Kind.EQUIPMENT)


def fleet_readings(sensors: int, count: int) -> list[Reading]:
    """The same fleet as loadgen.c publishes, as normalised readings."""
    out = []
    for i in range(count):
        s, k = i % sensors, i // sensors
        kind = _KINDS[s % len(_KINDS)]
        v = s + k / 1000
        equipment = None
        if kind is Kind.PARTICLES:
            values = {"particles_0_5um": 1000 + v, "particles_5_0um": v}
        elif kind is Kind.CLIMATE:
            values = {"temperature": 20 + v / 1000, "humidity": 40.0}
        elif kind is Kind.PRESSURE:
            values = {"diff_pressure": 10 + v / 1000}
        else:
            values = {"co2": 5 + v / 1000, "temperature": 37 + v / 1000}
            equipment = f"E{s // 4:03d}"
        ts_ns = T0_NS + (k * 1000 + s) * 1_000_000
        out.append(
            Reading(
                ts_ns=ts_ns,
                site="site1",
                room=f"R{s // 4:03d}",
                grade="C",
                sensor=f"S{s:04d}",
                kind=kind,
                values=values,
                sample_volume_l=28.3 if kind is Kind.PARTICLES else None,
                received_ns=ts_ns,
                equipment=equipment,
            )
        )
    return out


def replay_rates(sensors: int = 10_000, count: int = 300_000) -> tuple[float, float]:
    """Readings per second through ``AlarmEngine.on_reading``: (first per sensor, others)."""
    engine = AlarmEngine(parse_facility(facility_text(sensors)), start_ns=T0_NS)
    readings = fleet_readings(sensors, count)
    on_reading = engine.on_reading
    started = time.perf_counter()
    for r in readings[:sensors]:
        on_reading(r)
    first_done = time.perf_counter()
    for r in readings[sensors:]:
        on_reading(r)
    finished = time.perf_counter()
    return sensors / (first_done - started), (count - sensors) / (finished - first_done)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sensors", type=int, default=10_000)
    ap.add_argument("--readings", type=int, default=300_000)
    ap.add_argument("--json", action="store_true", help="print the two rates as JSON")
    args = ap.parse_args()
    first, steady = replay_rates(args.sensors, args.readings)
    if args.json:
        print(json.dumps({"first_per_s": first, "steady_per_s": steady}))
        return 0
    print(f"first reading per sensor: {first:.0f}/s; the others: {steady:.0f}/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
