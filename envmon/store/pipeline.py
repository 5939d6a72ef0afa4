"""The transactional buffer between ingest and InfluxDB (Telegraf's running_output).

``DurableWriter`` takes one point per reading, with a token (for ingest: the
MQTT message to acknowledge), and calls ``on_durable`` with the tokens,
always in submit order, once their lines are durable:

- written to InfluxDB (``OK``), or
- appended to the spool (``RETRY``: InfluxDB is down; acks must not wait for
  it), or
- dead-lettered in the spool (``REJECT``: InfluxDB refuses the data; it is
  kept with the reason, and waiting cannot help).

A point is a line of line protocol or a ``Reading``, which this thread turns
into its line when it takes the batch: formatting is kept off the network
thread, and this thread formats a whole batch in one go.

``TOO_LARGE`` and ``REJECT`` split the batch in halves and retry, so only the
lines InfluxDB really refuses end up dead-lettered (rewriting the accepted
ones is harmless: the same series and timestamp overwrite).

While InfluxDB is down every batch goes straight to the spool, and the oldest
spooled batch is replayed as a probe with backoff (``retry_min_s`` ..
``retry_max_s``). Once it answers, the backlog drains FIFO in large chunks
between live batches. If the spool is full while InfluxDB is down, nothing is
acknowledged: the broker keeps those messages, and both are retried.

The health and probe backoff live in ``influx_health``; the bisecting writes,
dead letters and spool replay in ``replay``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from envmon.readings import Reading
from envmon.store.config import InfluxSettings
from envmon.store.influx import InfluxWriter
from envmon.store.influx_health import InfluxHealth
from envmon.store.lineproto import reading_line
from envmon.store.replay import Replayer
from envmon.store.spool import Spool, SpoolFull
from envmon.store.submit_queue import SubmitQueue

log = logging.getLogger(__name__)

T = TypeVar("T")
Point = str | Reading
"""A line of line protocol, or a reading that becomes its contract line."""

# A drain write this large keeps the per-request overhead small while still
# letting live batches in between (InfluxDB 1.x takes it in well under 1 s).
DRAIN_CHUNK_LINES: Final = 20_000
_REFUSAL_LOG_INTERVAL_S: Final = 10.0


@dataclass(frozen=True, slots=True)
class WriterStats:
    written_lines: int
    spooled_lines: int
    replayed_lines: int
    dead_lettered_lines: int
    spool_depth_lines: int
    spool_fill_pct: float
    influx_healthy: bool
    last_write_latency_s: float
    """Of the last write to InfluxDB; 0.0 before the first."""
    pending: int
    """Tokens submitted and not yet passed to ``on_durable``."""
    refusing: bool
    """Spool full while InfluxDB is down: nothing is being acknowledged."""


@dataclass(slots=True)
class _Batch(Generic[T]):
    lines: list[str]
    tokens: list[T]


class DurableWriter(Generic[T]):
    """One writer thread making submitted lines durable, acknowledging in order.

    The writer and spool are the caller's: ``stop`` does not close them.
    """

    def __init__(
        self,
        writer: InfluxWriter,
        spool: Spool,
        settings: InfluxSettings,
        on_durable: Callable[[list[T]], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._writer = writer
        self._spool = spool
        self._on_durable = on_durable
        self._clock = clock
        self._batch_size = settings.batch_size
        self._flush_interval_s = settings.flush_interval_s

        self._cond = threading.Condition()
        # Times on the writer's clock.
        self._queue: SubmitQueue[tuple[Point | None, T]] = SubmitQueue()
        self._stopping = False
        self._stop_deadline = float("inf")
        self._thread: threading.Thread | None = None

        # Owned by the writer thread; ``stats`` reads the counts and health unlocked,
        # one attribute each.
        self._held: _Batch[T] | None = None
        self._inflight = 0
        self._next_refusal_log = 0.0
        self._health = InfluxHealth(
            writer.description, settings.retry_min_s, settings.retry_max_s, clock, log
        )
        self._replayer = Replayer(writer, spool, self._health, clock, settings.retry_min_s, log)

        self._written = 0
        self._spooled = 0

    # -- the caller's side -------------------------------------------------

    def submit(self, line: Point | None, token: T) -> None:
        """Queue one point (None: nothing to store) whose token is acked once durable.

        After ``stop`` the line is refused with an ERROR and its token is never
        acked (the broker redelivers the message to the next run).
        """
        with self._cond:
            if self._stopping:
                log.error("store is stopped: not storing %.200s", line)
                return
            self._queue.submit([(line, token)], self._clock())
            if len(self._queue) == self._batch_size:
                self._cond.notify()

    def submit_many(self, items: Sequence[tuple[Point | None, T]]) -> None:
        """``submit`` for each ``(line, token)`` in order, under one lock."""
        if not items:
            return
        with self._cond:
            if self._stopping:
                log.error("store is stopped: not storing %d lines", len(items))
                return
            q = self._queue
            was = len(q)
            q.submit(items, self._clock())
            # Only a full batch wakes the writer: below that it looks at the queue
            # every flush interval by itself (see ``_take_items``), instead of being
            # woken for every socket read that brings a reading or two.
            if was < self._batch_size <= len(q):
                self._cond.notify()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("DurableWriter already started")
        self._thread = threading.Thread(target=self._run, name="envmon-store", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 8.0) -> None:
        """Flush everything queued to InfluxDB or the spool, ack it, and end the thread.

        What cannot be made durable within ``timeout_s`` (spool full while
        InfluxDB is down) stays unacknowledged: the broker redelivers it.
        """
        with self._cond:
            self._stopping = True
            self._stop_deadline = self._clock() + timeout_s
            self._cond.notify()
        if self._thread is None:
            return
        self._thread.join(timeout_s + 2.0)
        if self._thread.is_alive():
            log.error("store writer did not finish within %.1f s", timeout_s)
        left = self.stats().pending
        if left:
            log.error(
                "%d readings are not durable at stop; left unacknowledged for the broker "
                "to redeliver",
                left,
            )

    def stats(self) -> WriterStats:
        with self._cond:
            pending = len(self._queue) + self._inflight
        return WriterStats(
            written_lines=self._written,
            spooled_lines=self._spooled,
            replayed_lines=self._replayer.replayed_lines,
            dead_lettered_lines=self._replayer.dead_lettered_lines,
            spool_depth_lines=self._spool.depth_lines,
            spool_fill_pct=self._spool.fill_pct,
            influx_healthy=self._health.healthy,
            last_write_latency_s=self._replayer.last_write_latency_s,
            pending=pending,
            refusing=self._held is not None,
        )

    # -- the writer thread -------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                if self._held is not None:
                    if not self._retry_held():
                        break
                    continue
                batch = self._take()
                if batch is not None:
                    self._make_durable(batch)
                elif self._stopping:
                    break
                else:
                    self._background()
        except Exception:
            log.critical(
                "store writer thread failed; readings are no longer acknowledged", exc_info=True
            )

    def _take(self) -> _Batch[T] | None:
        """The next live batch when it is due; None when background work is due or at stop."""
        items = self._take_items()
        if items is None:
            return None
        return _Batch(self._lines(items), [token for _, token in items])

    def _take_items(self) -> list[tuple[Point | None, T]] | None:
        with self._cond:
            while True:
                now = self._clock()
                q = self._queue
                if q and (
                    len(q) >= self._batch_size
                    or self._stopping
                    or now >= q.oldest_at + self._flush_interval_s
                ):
                    n = min(len(q), self._batch_size)
                    self._inflight = n
                    return q.take(n)
                if self._stopping:
                    return None
                wait_s = self._background_wait(now)
                if wait_s <= 0:
                    return None
                # A new point does not wake this thread (``submit_many``): it is at
                # most one flush interval away from being looked at.
                next_flush = (
                    q.oldest_at + self._flush_interval_s - now if q else self._flush_interval_s
                )
                self._cond.wait(min(wait_s, next_flush))

    def _lines(self, items: list[tuple[Point | None, T]]) -> list[str]:
        """The batch's lines: readings formatted here, off the network thread."""
        lines: list[str] = []
        for point, _ in items:
            if point is None:
                continue
            if isinstance(point, str):
                lines.append(point)
                continue
            try:
                lines.append(reading_line(point))
            except (ValueError, TypeError) as exc:
                self._replayer.dead_letter_unformattable(point, str(exc))
        return lines

    def _background_wait(self, now: float) -> float:
        """Seconds until background work (drain or probe) is due; 0 = now."""
        health = self._health
        if self._spool.depth_lines == 0:
            return 3600.0 if health.healthy else max(0.0, health.probe_at - now)
        due = self._replayer.drain_after if health.healthy else health.probe_at
        return max(0.0, due - now)

    def _background(self) -> None:
        if self._spool.depth_lines == 0:
            if not self._health.healthy:
                # Nothing to probe with: let the next live batch try InfluxDB.
                self._health.mark_healthy(self._spool.depth_lines)
            return
        if self._health.healthy:
            self._replayer.drain_chunk(DRAIN_CHUNK_LINES)
        else:
            self._replayer.probe()

    def _make_durable(self, batch: _Batch[T]) -> None:
        if self._deliver(batch.lines):
            self._ack(batch)
        else:
            self._held = batch
            self._log_refusal()

    def _retry_held(self) -> bool:
        """Retry a batch nothing could take; False when stop gives up on it."""
        with self._cond:
            now = self._clock()
            wait_s = max(0.0, self._health.probe_at - now)
            if self._stopping:
                if now >= self._stop_deadline:
                    return False
                wait_s = min(wait_s, self._stop_deadline - now)
            if wait_s > 0:
                self._cond.wait(wait_s)
        held = self._held
        assert held is not None
        if not self._health.healthy and self._spool.depth_lines > 0:
            self._replayer.probe()
        if self._deliver(held.lines, probing=True):
            self._held = None
            self._ack(held)
            log.warning("readings are being acknowledged again")
        else:
            self._log_refusal()
        return True

    def _deliver(self, lines: list[str], probing: bool = False) -> bool:
        """Lines into InfluxDB, else the spool. False if neither took them."""
        if not lines:
            return True
        body = "\n".join(lines).encode()
        out_of_time = self._stopping and self._clock() >= self._stop_deadline
        use_influx = self._health.healthy or (probing and self._spool.depth_lines == 0)
        if use_influx and not out_of_time:
            dead = self._replayer.write_bisecting(body)
            if dead is not None:
                self._written += len(lines) - dead
                if not self._health.healthy:
                    self._health.mark_healthy(self._spool.depth_lines)
                return True
        try:
            self._spool.append(body, len(lines))
        except SpoolFull:
            if self._clock() >= self._health.probe_at:
                self._health.schedule_probe(failed=True)
            return False
        self._spooled += len(lines)
        return True

    def _log_refusal(self) -> None:
        now = self._clock()
        if now >= self._next_refusal_log:
            self._next_refusal_log = now + _REFUSAL_LOG_INTERVAL_S
            with self._cond:
                pending = len(self._queue) + self._inflight
            log.error(
                "refusing readings: spool full (%.1f%% of its bound, else its disk is full) "
                "and %s unreachable; "
                "%d readings wait unacknowledged",
                self._spool.fill_pct,
                self._writer.description,
                pending,
            )

    def _ack(self, batch: _Batch[T]) -> None:
        try:
            self._on_durable(batch.tokens)
        except Exception:
            log.exception("on_durable failed for %d tokens", len(batch.tokens))
        finally:
            with self._cond:
                self._inflight = 0
