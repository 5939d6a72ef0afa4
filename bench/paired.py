"""Paired CPU comparison: two or more envmon source trees run at the same time.

    python bench/paired.py BEFORE_DIR AFTER_DIR [MORE_DIRS...] [--windows 6] [--tls]

The CPU of one envmon at a steady 1 000 readings/s moves by a third or more
between runs minutes apart on a shared VM (bench/README.md), far more than
most changes. Here every tree runs as its own ``envmon run`` (own client id,
state and InfluxDB database) against one broker, and every reading of one
load generator reaches them all: in each window they see the same load under
the same machine conditions, and the difference per window is what the
change did. Prints each window, the medians, and each tree's median
difference from the first. A tree is a source directory, e.g. from
``git archive COMMIT | tar -x -C DIR``. With ``--tls`` the envmons take the
readings from the broker's TLS listener (client certificates required; the
load generator stays on the plain one): envmon's own TLS edge compared.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (
    Load,
    bench_settings,
    cpu_ms_per_1000,
    cpu_seconds,
    envmon_tls_keys,
    facility_text,
)
from bench.phases import BenchRun, RunConfig
from tests.support.service_proc import ServiceProcess

RATE_PER_S = 1000.0
WINDOW_READINGS = 25_000
SETTLE_S = 5.0


def start_tree(run: BenchRun, index: int, src: Path, facility: Path, tls: bool) -> ServiceProcess:
    """``envmon run`` from ``src``, with its own client id, state and database."""
    database = f"envmon{index}"
    run.influx.create_database(database)
    config = bench_settings(
        run.root / f"envmon{index}",
        run.tls_port if tls else run.broker.port,
        run.influx.url,
        facility,
        database,
        client_id=f"envmon-bench-{index}",
        mqtt_extra=envmon_tls_keys(run.pki) if tls else "",
    )
    service = ServiceProcess(config, run.root / f"envmon{index}.log", src=src)
    service.start(timeout_s=180)
    return service


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trees", nargs="+", type=Path)
    # Each window publishes its own hour of event time, from a day back: more
    # would reach the future, which envmon rejects as a wild timestamp.
    ap.add_argument("--windows", type=int, choices=range(1, 21), default=6, metavar="1..20")
    ap.add_argument("--sensors", type=int, default=10_000)
    ap.add_argument("--tls", action="store_true", help="envmon on the broker's TLS listener")
    args = ap.parse_args()
    trees = [t.resolve() for t in args.trees]
    run = BenchRun(RunConfig(sensors=args.sensors))
    run.broker.start()
    run.influx.start()
    facility = run.root / "facility.toml"
    facility.write_text(facility_text(args.sensors))
    services: list[ServiceProcess] = []
    try:
        for i, tree in enumerate(trees):
            services.append(start_tree(run, i, tree, facility, args.tls))
        # One reading per sensor first: every envmon has built every channel and route.
        Load(run.broker.port, args.sensors, args.sensors, run.next_base(), rate_per_s=5000).wait()
        time.sleep(3.0)
        pids = [s.proc.pid for s in services if s.proc is not None]
        rows: list[list[float]] = []
        for w in range(args.windows):
            load = Load(
                run.broker.port,
                WINDOW_READINGS,
                args.sensors,
                run.next_base(),
                rate_per_s=RATE_PER_S,
                tag=f"lg-paired-{w}",
            )
            time.sleep(SETTLE_S)
            cpu0, t0 = [cpu_seconds(p) for p in pids], time.monotonic()
            load.wait()
            cpu1, t1 = [cpu_seconds(p) for p in pids], time.monotonic()
            row = [
                cpu_ms_per_1000(b - a, t1 - t0, RATE_PER_S) for a, b in zip(cpu0, cpu1, strict=True)
            ]
            rows.append(row)
            print(f"window {w}: " + " | ".join(f"{v:5.1f}" for v in row), flush=True)
        print("CPU per 1 000 readings at 1 000/s, ms (median of the windows):")
        for i, tree in enumerate(trees):
            print(f"  {tree}: {statistics.median(r[i] for r in rows):.1f}")
        for i, tree in enumerate(trees[1:], 1):
            diffs = [r[i] - r[0] for r in rows]
            shown = ", ".join(f"{d:+.1f}" for d in diffs)
            print(f"  {tree} - {trees[0]}: {statistics.median(diffs):+.1f} ({shown})")
    finally:
        for service in services:
            service.ensure_stopped()
        run.influx.stop()
        run.broker.stop()
        shutil.rmtree(run.root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
