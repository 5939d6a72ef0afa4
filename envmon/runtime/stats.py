"""envmon's own counters, written to InfluxDB as ``envmon_stats``."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Protocol

from envmon.store.lineproto import stats_line

log = logging.getLogger("envmon.service")


class WriterStatsView(Protocol):
    @property
    def spool_depth_lines(self) -> int: ...
    @property
    def spool_fill_pct(self) -> float: ...
    @property
    def influx_healthy(self) -> bool: ...
    @property
    def last_write_latency_s(self) -> float: ...


class StatsCollector:
    """Counts on the ingest thread, snapshots on the scheduler thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.readings_total = 0
        self.rejects: Counter[str] = Counter()
        self.mqtt_connected = False
        self.alarms_active = 0
        self._last_total = 0
        self._last_at = time.monotonic()

    def readings(self, n: int) -> None:
        self.readings_total += n  # single writer (paho thread); a torn read costs nothing

    def reject(self, reason: str) -> None:
        with self._lock:
            self.rejects[reason] += 1

    def snapshot(self, writer: WriterStatsView) -> dict[str, float | int]:
        now = time.monotonic()
        total = self.readings_total
        elapsed = max(now - self._last_at, 1e-9)
        rate = (total - self._last_total) / elapsed
        self._last_total, self._last_at = total, now
        with self._lock:
            rejects = dict(self.rejects)
        fields: dict[str, float | int] = {
            "readings_per_s": round(rate, 3),
            "readings_total": total,
            "rejects_total": sum(rejects.values()),
            "write_latency_ms": round(writer.last_write_latency_s * 1000, 3),
            "spool_depth_lines": writer.spool_depth_lines,
            "spool_fill_pct": round(writer.spool_fill_pct, 3),
            "mqtt_connected": int(self.mqtt_connected),
            "influx_healthy": int(writer.influx_healthy),
            "alarms_active": self.alarms_active,
        }
        for reason, n in rejects.items():
            fields[f"rejects_{reason}"] = n
        return fields


class StatsSink(Protocol):
    def stats(self) -> WriterStatsView: ...

    def submit_lines(self, lines: Sequence[str]) -> None: ...


class StatsReporter:
    """Writes a snapshot of the counters to InfluxDB (``envmon_stats``) and the log."""

    def __init__(
        self, collector: StatsCollector, store: StatsSink, site: str, clock_ns: Callable[[], int]
    ) -> None:
        self._collector = collector
        self._store = store
        self.site = site
        self._clock_ns = clock_ns

    def report(self) -> None:
        writer = self._store.stats()
        fields = self._collector.snapshot(writer)
        self._store.submit_lines([stats_line(self.site, fields, self._clock_ns())])
        log.info(
            "stats: %.1f readings/s, %d rejected, spool %d lines (%.1f %%), InfluxDB %s",
            fields["readings_per_s"],
            fields["rejects_total"],
            writer.spool_depth_lines,
            writer.spool_fill_pct,
            "healthy" if writer.influx_healthy else "UNREACHABLE",
        )
