"""The per-reading path in-process, stage by stage: µs of thread time a reading, no network.

    python bench/per_reading.py [--src DIR] [--readings 50000] [--runs 5] [--profile STAGE]

Over the bench fleet (10 000 sensors, tests/support/fleet.py's readings, which
bench/loadgen.c publishes too), in reads of 14 messages (what the network
thread gets per wake-up at 1 000 readings/s), one stage at a time:

- ``router``: ``Router.on_messages`` with the real ``Ingestor``, drift monitor
  and stats, the store and the alarm worker replaced by lists (the network
  thread's work after the MQTT reader);
- ``queue``: the store's ``submit_many`` of those reads and the writer's
  takes (the network thread's hand-over, the store thread's take);
- ``engine``: ``AlarmEngine.on_reading`` with a checkpoint every 250
  readings (the alarm worker's, every 0.25 s at 1 000/s);
- ``line``: ``reading_line`` (the store thread's formatting).

One reading per sensor goes through first (routes, drift windows, channels),
as the bench's warm-up does, then long-lived objects are frozen as the
service freezes them (``envmon.runtime.heap``). Figures are medians of ``--runs`` runs; the
machine's other load still moves them, so compare trees in alternation.
``--profile STAGE`` prints cProfile's top functions of one run instead.
``--src DIR`` measures another source tree (e.g. ``git worktree add
--detach /tmp/before main``) with this tree's fleet.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_DIR = Path(__file__).resolve().parents[1]
SENSORS = 10_000
PER_READ = 14
CHECKPOINT_EVERY = 250
RECEIVED_AFTER_NS = 50_000_000
STAGES = ("router", "queue", "engine", "line")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, help="the envmon source tree to measure")
    ap.add_argument("--readings", type=int, default=50_000, help="timed, after the warm-up")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--profile", choices=STAGES)
    args = ap.parse_args()
    src = (args.src or REPO_DIR).resolve()
    sys.path.insert(0, str(REPO_DIR))
    from tests.support.fleet import facility_toml, readings  # imports no envmon module

    sys.path.insert(0, str(src))
    import envmon

    if not Path(envmon.__file__).resolve().is_relative_to(src):
        raise SystemExit(f"per_reading: envmon comes from {envmon.__file__}, not {src}")
    stages = Stages(facility_toml(SENSORS), readings(SENSORS, SENSORS + args.readings))
    for name in STAGES if args.profile is None else (args.profile,):
        run = getattr(stages, name)
        if args.profile:
            profile = cProfile.Profile()
            run(profile)
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
            continue
        us = [run(None) for _ in range(args.runs)]
        shown = ", ".join(f"{u:.2f}" for u in us)
        print(f"{name:7s} {statistics.median(us):6.2f} us a reading (runs: {shown})")
    return 0


class Stages:
    """Each stage's timed loop; every call measures one run and returns µs a reading."""

    def __init__(self, facility_text: str, sent: list[Any]) -> None:
        from envmon.facility import parse_facility
        from envmon.ingest._mqtt_frames import Delivery
        from envmon.readings import Reading

        self.facility = parse_facility(facility_text)
        reads = []
        for start in range(0, len(sent), PER_READ):
            chunk = sent[start : start + PER_READ]
            deliveries = [
                Delivery(m.topic, m.payload, i % 65535 + 1, 1) for i, m in enumerate(chunk)
            ]
            reads.append((deliveries, chunk[-1].ts_ms * 1_000_000 + RECEIVED_AFTER_NS))
        self.warm_reads = reads[: SENSORS // PER_READ]
        self.reads = reads[SENSORS // PER_READ :]
        # Every stage after the router takes what the router made of the same reads.
        _, store, _ = self._route(None, timed=False)
        self.store_items = store.items
        self.readings = [p for p, _ in store.items if isinstance(p, Reading)]
        self.timed_readings = len(self.readings) - len(self.warm_reads) * PER_READ

    def router(self, profile: cProfile.Profile | None) -> float:
        return self._route(profile, timed=True)[0]

    def _route(self, profile: cProfile.Profile | None, timed: bool) -> tuple[float, Any, Any]:
        from envmon.ingest.config import IngestSettings
        from envmon.ingest.drift import ClockDriftMonitor
        from envmon.ingest.ingestor import Ingestor
        from envmon.ingest.rejects import RejectLog
        from envmon.ingest.router import Router
        from envmon.runtime.stats import StatsCollector

        settings = IngestSettings()
        store, judge = _Sink(), _Sink()
        router = Router(
            Ingestor(self.facility, settings, "fac"),
            store,
            judge,
            lambda topic, payload, qos=1, retain=False: None,
            prefix="fac",
            rejects=RejectLog(settings.reject_log_interval_s),
            drift=ClockDriftMonitor(
                settings.clock_drift_warn_s,
                settings.clock_drift_window_s,
                settings.clock_drift_warn_every_s,
            ),
            stats=StatsCollector(),
        )
        for deliveries, received_ns in self.warm_reads:
            router.on_messages(deliveries, received_ns)
        if not timed:
            for deliveries, received_ns in self.reads:
                router.on_messages(deliveries, received_ns)
            return 0.0, store, judge
        return self._timed(profile, lambda: _feed(router, self.reads)), store, judge

    def queue(self, profile: cProfile.Profile | None) -> float:
        from envmon.store.config import InfluxSettings
        from envmon.store.pipeline import DurableWriter

        settings = InfluxSettings()
        items = self.store_items[len(self.warm_reads) * PER_READ :]
        batches = [items[i : i + PER_READ] for i in range(0, len(items), PER_READ)]
        # Not started: only the caller's side and the takes run, on this thread.
        influx: Any = _NoInflux()
        writer: Any = DurableWriter(influx, None, settings, lambda tokens: None)  # type: ignore[arg-type]

        def submit_and_take() -> None:
            for batch in batches:
                writer.submit_many(batch)
                # A full batch is due at once: the writer's thread would take it now.
                if len(writer._queue) >= settings.batch_size:
                    writer._take_items()

        return self._timed(profile, submit_and_take, len(items))

    def engine(self, profile: cProfile.Profile | None) -> float:
        from envmon.alarms.engine import AlarmEngine

        engine = AlarmEngine(self.facility, start_ns=0)
        engine.prime()
        warm = len(self.readings) - self.timed_readings
        for reading in self.readings[:warm]:
            engine.on_reading(reading)
        engine.checkpoint()
        steady = self.readings[warm:]

        def judge() -> None:
            for i, reading in enumerate(steady, 1):
                engine.on_reading(reading)
                if i % CHECKPOINT_EVERY == 0:
                    engine.checkpoint()

        return self._timed(profile, judge)

    def line(self, profile: cProfile.Profile | None) -> float:
        from envmon.store.lineproto import reading_line

        warm = len(self.readings) - self.timed_readings
        for reading in self.readings[:warm]:
            reading_line(reading)  # the series cache, as in a running service
        steady = self.readings[warm:]

        def format_all() -> None:
            for reading in steady:
                reading_line(reading)

        return self._timed(profile, format_all)

    def _timed(
        self, profile: cProfile.Profile | None, work: Callable[[], None], n: int | None = None
    ) -> float:
        from envmon.runtime.heap import freeze_long_lived

        # As the service does once it is built: the facility and the stage's state
        # are out of the collector's way, and the young generation is sized as there.
        freeze_long_lived()
        if profile is not None:
            profile.enable()
        start = time.thread_time()
        work()
        took = time.thread_time() - start
        if profile is not None:
            profile.disable()
        return took / (n or self.timed_readings) * 1e6


class _NoInflux:
    """The InfluxDB writer as the durable writer's health sees it: never written to here."""

    description = "no InfluxDB (per_reading)"


class _Sink:
    """The store and the alarm worker as the router sees them, keeping what they get."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def submit_many(self, items: list[Any]) -> None:
        self.items.extend(items)

    def judge(self, batch: list[Any]) -> None:
        self.items.extend(batch)


def _feed(router: Any, reads: list[Any]) -> None:
    for deliveries, received_ns in reads:
        router.on_messages(deliveries, received_ns)


if __name__ == "__main__":
    sys.exit(main())
