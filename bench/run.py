"""envmon's benchmark: one command, every figure of issue 7, medians over runs.

    python bench/run.py [--runs 3] [--sensors 10000] [--quick] [--label before]
                        [--mqtt-reader auto|buffered|paho]

Starts its own Mosquitto, InfluxDB 1.x and ``envmon run`` per run (fresh
directories), prints a table and writes ``bench/results/<timestamp>.json``
with every run's figures and their medians. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import BENCH_DIR, build_loadgen, load_average
from bench.phases import PHASES, BenchRun, RunConfig

# (key, label, unit, target as text, passes(value, figures))
ROWS = [
    ("loadgen_per_s", "loadgen alone (publisher ceiling)", "msg/s", "", None),
    ("broker_per_s", "mosquitto_sub (broker ceiling)", "msg/s", "", None),
    ("paho_per_s", "bare paho-mqtt (Python ceiling)", "msg/s", "", None),
    ("paho_cpu_ms_per_1000", "bare paho CPU per 1000 msgs at 1000/s", "ms", "", None),
    ("ingest_per_s", "envmon ingest into InfluxDB", "readings/s", "", None),
    ("ingest_pct_of_paho", "  as % of the paho ceiling", "%", ">= 70", lambda v, f: v >= 70),
    ("ingest_lost", "  lost (published - stored)", "readings", "0", lambda v, f: v == 0),
    ("ingest_envmon_cpu_ms_per_1000", "  envmon CPU per 1000 while ingesting", "ms", "", None),
    ("ingest_broker_cpu_ms_per_1000", "  broker CPU per 1000 while ingesting", "ms", "", None),
    ("ingest_plain_late_per_s", "envmon ingest, plain, before TLS", "readings/s", "", None),
    ("ingest_plain_late_lost", "  lost", "readings", "0", lambda v, f: v == 0),
    ("ingest_tls_per_s", "envmon ingest over TLS (publisher plain)", "readings/s", "", None),
    ("ingest_tls_pct_of_plain", "  as % of plain just before", "%", ">= 90", lambda v, f: v >= 90),
    ("ingest_tls_lost", "  lost over TLS", "readings", "0", lambda v, f: v == 0),
    ("ingest_tls_envmon_cpu_ms_per_1000", "  envmon CPU per 1000 over TLS", "ms", "", None),
    ("ingest_tls_broker_cpu_ms_per_1000", "  broker CPU per 1000 over TLS", "ms", "", None),
    ("ingest_tls_both_per_s", "envmon ingest, publisher on TLS too", "readings/s", "", None),
    ("ingest_tls_both_pct_of_plain", "  as % of plain just before", "%", "", None),
    ("ingest_tls_both_lost", "  lost", "readings", "0", lambda v, f: v == 0),
    ("cpu_ms_per_1000", "CPU per 1000 readings at 1000/s", "ms", "< 50", lambda v, f: v < 50),
    ("steady_broker_cpu_ms_per_1000", "  broker CPU per 1000 meanwhile", "ms", "", None),
    ("steady_influx_cpu_ms_per_1000", "  InfluxDB CPU per 1000 meanwhile", "ms", "", None),
    ("rss_peak_mb", "peak RSS (VmHWM), 10k sensors", "MiB", "< 150", lambda v, f: v < 150),
    ("alarm_p50_ms", "alarm latency p50 at 5000/s", "ms", "", None),
    ("alarm_p99_ms", "alarm latency p99 at 5000/s", "ms", "< 50", lambda v, f: v < 50),
    ("alarm_max_ms", "alarm latency max at 5000/s", "ms", "", None),
    ("alarm_missed", "  alarms not seen", "alarms", "0", lambda v, f: v == 0),
    (
        "cpu_ms_per_1000_console",
        "CPU per 1000 at 1000/s, console open",
        "ms",
        "< 50",
        lambda v, f: v < 50,
    ),
    (
        "alarm_p99_ms_console",
        "alarm latency p99 at 5000/s, console open",
        "ms",
        "< 50",
        lambda v, f: v < 50,
    ),
    ("alarm_missed_console", "  alarms not seen, console open", "alarms", "0", lambda v, f: v == 0),
    ("console_cpu_pct", "  the console's own CPU meanwhile", "% of a core", "", None),
    ("console_rows_added", "  alarm rows the live page gained", "rows", "", None),
    ("alarm300_p50_ms", "alarm latency p50 at 300/s", "ms", "", None),
    (
        "alarm300_p99_ms",
        "alarm latency p99 at 300/s",
        "ms",
        "<= bridge",
        lambda v, f: v <= f.get("bridge300_p99_ms", float("inf")),
    ),
    ("alarm300_max_ms", "alarm latency max at 300/s", "ms", "", None),
    ("alarm300_missed", "  alarms not seen at 300/s", "alarms", "0", lambda v, f: v == 0),
    ("bridge300_p50_ms", "naive bridge latency p50 at 300/s", "ms", "", None),
    ("bridge300_p99_ms", "naive bridge latency p99 at 300/s", "ms", "", None),
    ("bridge300_max_ms", "naive bridge latency max at 300/s", "ms", "", None),
    ("bridge300_missed", "  bridge alarms not seen", "alarms", "", None),
    ("envmon300_cpu_ms_per_1000", "envmon CPU per 1000 at 300/s", "ms", "", None),
    ("bridge300_cpu_ms_per_1000", "naive bridge CPU per 1000 at 300/s", "ms", "", None),
    ("steady300_lost", "  lost at 300/s", "readings", "0", lambda v, f: v == 0),
    ("spool_drain_per_s", "spool drain (arrivals 1000/s)", "lines/s", "", None),
    ("spool_drain_x_arrival", "  drain / arrival rate", "x", ">= 5", lambda v, f: v >= 5),
    ("spool_recovery_s", "  InfluxDB back -> spool empty", "s", "", None),
    ("outage_lost", "  lost through the outage", "readings", "0", lambda v, f: v == 0),
    (
        "engine_replay_per_s",
        "AlarmEngine replay (no I/O)",
        "readings/s",
        ">= 200000",
        lambda v, f: v >= 200_000,
    ),
    ("engine_first_reading_per_s", "  first reading of each sensor", "readings/s", "", None),
    ("envmon_log_errors", "envmon ERROR lines in log", "lines", "", None),
]


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    keys = {k for r in runs for k in r}
    return {k: statistics.median(r[k] for r in runs if k in r) for k in sorted(keys)}


def table(figures: dict[str, float], runs: int) -> str:
    out = [f"{'figure':<40} {'median of ' + str(runs):>14} {'unit':<11} {'target':<10} ok"]
    for key, label, unit, target, passes in ROWS:
        if key not in figures:
            continue
        v = figures[key]
        shown = f"{v:,.1f}" if abs(v) < 1000 else f"{v:,.0f}"
        verdict = "" if passes is None else ("yes" if passes(v, figures) else "NO")
        out.append(f"{label:<40} {shown:>14} {unit:<11} {target:<10} {verdict}")
    return "\n".join(out)


def replay_rates_of(src: Path | None, sensors: int, count: int) -> tuple[float, float]:
    """The engine replay of ``src``'s envmon, in a process of its own: this process
    imported its own tree's envmon, which ``--envmon-src`` does not replace."""
    env = dict(os.environ, ENVMON_SRC=str(src)) if src else None
    out = subprocess.run(
        [
            sys.executable,
            str(BENCH_DIR / "engine_replay.py"),
            "--json",
            "--sensors",
            str(sensors),
            "--readings",
            str(count),
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rates = json.loads(out.splitlines()[-1])
    return rates["first_per_s"], rates["steady_per_s"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--sensors", type=int, default=10_000)
    ap.add_argument("--loadgen-procs", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="smaller counts, for a smoke test")
    ap.add_argument(
        "--console-viewer",
        choices=("chromium", "stream"),
        default="chromium",
        help="console phase: the page in Chromium, or only its requests (no rendering)",
    )
    ap.add_argument("--label", default="", help="stored in the result file (before/after)")
    ap.add_argument("--keep", type=Path, help="keep server data and logs under this dir")
    ap.add_argument(
        "--envmon-src",
        type=Path,
        help="run envmon from this source tree (e.g. `git archive HEAD` of an older commit)",
    )
    ap.add_argument(
        "--only",
        default="",
        help=f"comma-separated phases to run, of {','.join(PHASES)} (default: all)",
    )
    ap.add_argument(
        "--mqtt-reader",
        choices=("auto", "buffered", "paho"),
        help="envmon's [mqtt] reader (default: not set, which is auto)",
    )
    args = ap.parse_args()
    if args.envmon_src:
        args.envmon_src = args.envmon_src.resolve()

    build_loadgen()
    only = frozenset(x for x in args.only.split(",") if x)
    if only - set(PHASES):
        ap.error(f"--only: unknown phase(s) {', '.join(sorted(only - set(PHASES)))}")
    cfg = RunConfig(
        sensors=args.sensors,
        loadgen_procs=args.loadgen_procs,
        only=only,
        envmon_src=args.envmon_src,
        mqtt_reader=args.mqtt_reader,
        console_viewer=args.console_viewer,
    )
    if args.quick:
        cfg = replace(
            cfg,
            ceiling_count=30_000,
            ingest_count=30_000,
            steady_s=5,
            alarm_injections=40,
            steady_injections=40,
            outage_s=8,
        )
    runs: list[dict[str, float]] = []
    for i in range(args.runs):
        print(f"run {i + 1}/{args.runs} (load average {load_average():.2f})", flush=True)
        keep = args.keep / f"run{i + 1}" if args.keep else None
        figures = BenchRun(
            replace(cfg, keep_dir=keep), log=lambda s: print(s, flush=True)
        ).measure()
        if not only:
            first, steady = replay_rates_of(
                args.envmon_src, args.sensors, 100_000 if args.quick else 300_000
            )
            figures["engine_first_reading_per_s"] = first
            figures["engine_replay_per_s"] = steady
            print(
                f"  engine replay: {steady:,.0f}/s (first reading per sensor {first:,.0f}/s)",
                flush=True,
            )
        figures["load_average"] = load_average()
        runs.append(figures)
    summary = medians(runs)
    print()
    print(table(summary, len(runs)))
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = BENCH_DIR / "results" / f"{stamp}.json"
    out.parent.mkdir(exist_ok=True)
    cfg_json = {
        k: str(v) if isinstance(v, Path) else sorted(v) if isinstance(v, frozenset) else v
        for k, v in asdict(cfg).items()
    }
    out.write_text(
        json.dumps(
            {"label": args.label, "config": cfg_json, "runs": runs, "median": summary}, indent=2
        )
        + "\n"
    )
    print(f"\nwritten {out.relative_to(BENCH_DIR.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
