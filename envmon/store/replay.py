"""The store's writes to InfluxDB: bodies bisected down to dead letters, and the spool replayed.

``write_bisecting`` writes a body, halving it on ``TOO_LARGE`` and ``REJECT``
so that only the lines InfluxDB really refuses are dead-lettered in the spool
(rewriting the accepted halves is harmless: the same series and timestamp
overwrite). ``drain_chunk`` replays the oldest spooled batches FIFO and removes
each once it is durable; ``probe`` replays just the oldest one while InfluxDB
is down. Every outcome moves the ``InfluxHealth`` shared with the writer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from envmon.readings import Reading
from envmon.store.influx import InfluxWriter, Outcome, WriteResult
from envmon.store.influx_health import InfluxHealth
from envmon.store.spool import Spool, SpoolFull

_DRAIN_CHUNK_BATCHES: Final = 2_000


class Replayer:
    """Live and replayed writes to InfluxDB, the spool's dead letters, and their counts.

    Owned by ``DurableWriter``'s writer thread, which alone calls the methods;
    ``stats()`` reads the counts unlocked from the caller's thread (each a
    single attribute read). The writer and spool are the caller's.
    """

    def __init__(
        self,
        writer: InfluxWriter,
        spool: Spool,
        health: InfluxHealth,
        clock: Callable[[], float],
        pause_s: float,
        log: logging.Logger,
    ) -> None:
        self._writer = writer
        self._spool = spool
        self._health = health
        self._clock = clock
        self._pause_s = pause_s
        # The writer's logger: these lines are filtered and parsed under its name.
        self._log = log
        self._drain_started: tuple[float, int] | None = None
        self._drain_after = 0.0
        self._replayed = 0
        self._dead = 0
        self._last_latency_s = 0.0

    @property
    def replayed_lines(self) -> int:
        return self._replayed

    @property
    def dead_lettered_lines(self) -> int:
        return self._dead

    @property
    def last_write_latency_s(self) -> float:
        """Of the last write to InfluxDB, live or replayed; 0.0 before the first."""
        return self._last_latency_s

    @property
    def drain_after(self) -> float:
        """No drain before this time on the clock (after a chunk that made no progress)."""
        return self._drain_after

    def write_bisecting(self, body: bytes) -> int | None:
        """Write, halving on TOO_LARGE and REJECT; dead-letter single refused lines.

        Returns how many lines were dead-lettered, or None when InfluxDB needs
        a retry (now marked unhealthy) or the dead letter could not be stored.
        Lines written before a None are written; rewriting them is harmless.
        """
        result = self._timed_write(body)
        if result.outcome is Outcome.OK:
            return 0
        if result.outcome is Outcome.RETRY:
            self._health.mark_unhealthy(result.reason)
            return None
        parts = body.split(b"\n")
        if len(parts) > 1:
            mid = len(parts) // 2
            first = self.write_bisecting(b"\n".join(parts[:mid]))
            if first is None:
                return None
            second = self.write_bisecting(b"\n".join(parts[mid:]))
            return None if second is None else first + second
        try:
            self._spool.dead_letter(body, 1, result.reason)
        except SpoolFull:
            return None
        self._dead += 1
        self._log.error(
            "InfluxDB refused a point, kept in the spool's dead letters: %s; point: %.300s",
            result.reason,
            body.decode("utf-8", errors="replace"),
        )
        return 1

    def dead_letter_unformattable(self, reading: Reading, reason: str) -> None:
        """A reading with no valid line (the decoder lets none through): kept, not dropped."""
        self._log.error(
            "reading cannot be written as line protocol: %s; reading: %.300r", reason, reading
        )
        try:
            self._spool.dead_letter(repr(reading).encode(), 1, reason)
        except SpoolFull:
            self._log.error("spool full: the reading above is in this log only")
            return
        self._dead += 1

    def drain_chunk(self, max_lines: int) -> None:
        """Replay the oldest spooled batches; remove each that is durable in InfluxDB."""
        batches = self._spool.oldest(_DRAIN_CHUNK_BATCHES, max_lines=max_lines)
        if not batches:
            return
        if self._drain_started is None:
            self._drain_started = (self._clock(), self._spool.depth_lines)
            self._log.info("replaying %d spooled lines into InfluxDB", self._spool.depth_lines)
        body = b"\n".join(b.body for b in batches)
        lines = sum(b.lines for b in batches)
        result = self._timed_write(body)
        if result.outcome is Outcome.OK:
            self._spool.remove([b.id for b in batches])
            self._replayed += lines
            self._health.mark_healthy(self._spool.depth_lines)
        elif result.outcome is Outcome.RETRY:
            self._health.mark_unhealthy(result.reason)
            # Not draining after all: the next successful replay starts the
            # count, so "spool drained" reports the lines really replayed.
            self._drain_started = None
        else:
            progressed = False
            for batch in batches:
                dead = self.write_bisecting(batch.body)
                if dead is None:
                    break
                self._spool.remove([batch.id])
                self._replayed += batch.lines - dead
                progressed = True
            if not progressed:
                # E.g. the dead letter cannot be stored (disk full): pause, not spin.
                self._drain_after = self._clock() + self._pause_s
        if self._spool.depth_lines == 0 and self._drain_started is not None:
            started, depth = self._drain_started
            elapsed = max(self._clock() - started, 1e-9)
            self._log.info(
                "spool drained: %d lines replayed in %.1f s (%.0f lines/s)",
                depth,
                elapsed,
                depth / elapsed,
            )
            self._drain_started = None

    def probe(self) -> None:
        """Replay the oldest spooled batch as a probe; healthy again if it is written."""
        self.drain_chunk(max_lines=1)
        if self._health.healthy:
            return
        self._health.schedule_probe(failed=True)

    def _timed_write(self, body: bytes) -> WriteResult:
        started = self._clock()
        result = self._writer.write(body)
        self._last_latency_s = self._clock() - started
        return result
