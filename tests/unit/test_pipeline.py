"""DurableWriter with a fake InfluxDB: ordering, outage, drain, reject, split, full spool, stop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from envmon.readings import Kind, Reading
from envmon.store.config import InfluxSettings
from envmon.store.influx import Outcome, WriteResult
from envmon.store.lineproto import reading_line
from envmon.store.pipeline import DurableWriter
from envmon.store.spool import Spool
from tests.support.wait import wait_until


class FakeInflux:
    """An InfluxWriter that stores lines in memory and misbehaves on demand."""

    description = "fake InfluxDB"

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.down = False
        self.max_lines: int | None = None  # TOO_LARGE above this
        self.reject_marker: str | None = None  # REJECT any body containing it
        self.writes = 0
        self._lock = threading.Lock()

    def write(self, body: bytes) -> WriteResult:
        text = body.decode()
        with self._lock:
            self.writes += 1
            if self.down:
                return WriteResult(Outcome.RETRY, "connection refused")
            lines = text.split("\n")
            if self.max_lines is not None and len(lines) > self.max_lines:
                return WriteResult(Outcome.TOO_LARGE, "HTTP 413", 413)
            if self.reject_marker is not None and self.reject_marker in text:
                return WriteResult(Outcome.REJECT, "HTTP 400: partial write", 400)
            self.lines.extend(lines)
            return WriteResult(Outcome.OK)

    def ping(self) -> bool:
        return not self.down

    def close(self) -> None:
        pass


class Acks:
    """Collects on_durable calls."""

    def __init__(self) -> None:
        self.tokens: list[int] = []
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, tokens: list[int]) -> None:
        with self._lock:
            self.tokens.extend(tokens)
            self.calls += 1


def settings(**changes: object) -> InfluxSettings:
    base: dict[str, object] = {
        "batch_size": 50,
        "flush_interval_s": 0.02,
        "retry_min_s": 0.02,
        "retry_max_s": 0.1,
    }
    base.update(changes)
    return InfluxSettings.model_validate(base)


def point(i: int) -> str:
    return f"climate,room=R{i % 7},sensor=S{i % 13} temperature={i}.5 {1_000_000 + i}"


def reading(i: int) -> Reading:
    return Reading(
        ts_ns=2_000_000 + i,
        site="site1",
        room="R1",
        grade="C",
        sensor="TH1",
        kind=Kind.CLIMATE,
        values={"temperature": 20.0 + i / 8, "humidity": 40.0},
    )


@pytest.fixture
def influx() -> FakeInflux:
    return FakeInflux()


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    s = Spool(tmp_path / "spool.sqlite", 50_000_000, 80)
    yield s
    s.close()


def make(influx: FakeInflux, spool: Spool, acks: Acks, **changes: object) -> DurableWriter[int]:
    w: DurableWriter[int] = DurableWriter(influx, spool, settings(**changes), acks)
    w.start()
    return w


class TestDurableWriter:
    def test_acks_every_token_in_submit_order(self, influx: FakeInflux, spool: Spool) -> None:
        """Tokens reach on_durable exactly once, in submit order, including line-less ones."""
        acks = Acks()
        w = make(influx, spool, acks, batch_size=7)
        for i in range(1000):
            w.submit(None if i % 10 == 3 else point(i), i)
        wait_until(lambda: len(acks.tokens) == 1000)
        w.stop()
        assert acks.tokens == list(range(1000))
        assert len(influx.lines) == 900
        assert w.stats().written_lines == 900
        assert w.stats().pending == 0

    def test_submit_many_is_submit_in_order(self, influx: FakeInflux, spool: Spool) -> None:
        """Batches handed over at once keep their order among single submits."""
        acks = Acks()
        w = make(influx, spool, acks, batch_size=7)
        lines: list[str] = []
        i = 0
        while i < 1000:
            items = [
                (None if j % 10 == 3 else point(j), j) for j in range(i, min(i + i % 23 + 1, 1000))
            ]
            w.submit_many(items)
            lines += [line for line, _ in items if line is not None]
            i += len(items)
            if i < 1000:
                w.submit(point(i), i)
                lines.append(point(i))
                i += 1
        wait_until(lambda: len(acks.tokens) == 1000)
        w.stop()
        assert acks.tokens == list(range(1000))
        assert influx.lines == lines

    def test_a_full_batch_handed_over_at_once_goes_out_without_waiting(
        self, influx: FakeInflux, spool: Spool
    ) -> None:
        """submit_many that fills a batch wakes the writer like the submit that fills it."""
        acks = Acks()
        w = make(influx, spool, acks, batch_size=10, flush_interval_s=60)
        w.submit(point(0), 0)
        w.submit_many([(point(i), i) for i in range(1, 10)])
        wait_until(lambda: len(acks.tokens) == 10, timeout_s=5)
        w.stop()

    def test_batches_by_size(self, influx: FakeInflux, spool: Spool) -> None:
        """A full batch goes out without waiting for the flush interval."""
        acks = Acks()
        w = make(influx, spool, acks, batch_size=10, flush_interval_s=60)
        for i in range(10):
            w.submit(point(i), i)
        wait_until(lambda: len(acks.tokens) == 10, timeout_s=5)
        assert influx.writes == 1
        w.stop()

    def test_flushes_a_partial_batch_after_the_interval(
        self, influx: FakeInflux, spool: Spool
    ) -> None:
        """A lone reading is written within the flush interval, not held for a full batch."""
        acks = Acks()
        w = make(influx, spool, acks, batch_size=1000, flush_interval_s=0.05)
        w.submit(point(1), 1)
        wait_until(lambda: acks.tokens == [1], timeout_s=5)
        assert influx.lines == [point(1)]
        w.stop()

    def test_outage_spools_then_drains(self, influx: FakeInflux, spool: Spool) -> None:
        """During an outage readings are acked from the spool; afterwards all reach InfluxDB."""
        acks = Acks()
        w = make(influx, spool, acks, batch_size=20)
        influx.down = True
        for i in range(500):
            w.submit(point(i), i)
        wait_until(lambda: len(acks.tokens) == 500)
        stats = w.stats()
        assert not stats.influx_healthy
        assert stats.spooled_lines == 500
        assert stats.spool_depth_lines == 500
        influx.down = False
        for i in range(500, 600):
            w.submit(point(i), i)
        wait_until(lambda: spool.depth_lines == 0 and len(acks.tokens) == 600)
        w.stop()
        assert acks.tokens == list(range(600))
        assert sorted(influx.lines) == sorted(point(i) for i in range(600))
        stats = w.stats()
        assert stats.influx_healthy
        # Live readings spooled before the first successful probe are replayed too.
        assert stats.replayed_lines >= 500
        assert stats.replayed_lines + stats.written_lines == 600

    def test_probe_backs_off(self, influx: FakeInflux, spool: Spool) -> None:
        """While InfluxDB stays down it is probed with growing intervals, not hammered."""
        acks = Acks()
        w = make(influx, spool, acks, retry_min_s=0.05, retry_max_s=0.2)
        influx.down = True
        w.submit(point(1), 1)
        wait_until(lambda: acks.tokens == [1])
        time.sleep(1.0)
        w.stop()
        # 1 s at 0.05, 0.1, 0.2, 0.2, ... is at most ~8 probes; hammering would be hundreds.
        assert 2 <= influx.writes <= 12

    def test_backlog_left_by_a_previous_run_is_replayed(
        self, influx: FakeInflux, tmp_path: Path
    ) -> None:
        """A new writer on a spool with a backlog replays it into InfluxDB."""
        path = tmp_path / "spool.sqlite"
        old = Spool(path, 50_000_000, 80)
        old.append("\n".join(point(i) for i in range(100)).encode(), 100)
        old.append("\n".join(point(i) for i in range(100, 150)).encode(), 50)
        old.close()
        spool = Spool(path, 50_000_000, 80)
        acks = Acks()
        w = make(influx, spool, acks)
        wait_until(lambda: spool.depth_lines == 0)
        w.stop()
        assert influx.lines == [point(i) for i in range(150)]
        assert w.stats().replayed_lines == 150
        spool.close()

    def test_reject_dead_letters_only_the_bad_line(self, influx: FakeInflux, spool: Spool) -> None:
        """A refused batch is split until the refused line alone is dead-lettered; all acked."""
        acks = Acks()
        influx.reject_marker = "BAD"
        w = make(influx, spool, acks, batch_size=16, flush_interval_s=0.2)
        lines = [point(i) for i in range(16)]
        lines[5] = "climate,room=BAD v=1 1"
        for i, text in enumerate(lines):
            w.submit(text, i)
        wait_until(lambda: len(acks.tokens) == 16)
        w.stop()
        assert acks.tokens == list(range(16))
        assert sorted(influx.lines) == sorted(lines[:5] + lines[6:])
        (dead,) = spool.dead_letters()
        assert dead.body == lines[5].encode()
        assert "partial write" in dead.reason
        assert w.stats().dead_lettered_lines == 1

    def test_readings_are_written_as_their_contract_lines(
        self, influx: FakeInflux, spool: Spool
    ) -> None:
        """A Reading submitted as a point is formatted by the writer, in order among lines."""
        acks = Acks()
        w = make(influx, spool, acks, batch_size=5)
        readings = [reading(i) for i in range(12)]
        for i, r in enumerate(readings):
            w.submit(point(i) if i % 3 == 0 else r, i)
        wait_until(lambda: len(acks.tokens) == 12)
        w.stop()
        assert acks.tokens == list(range(12))
        assert influx.lines == [
            point(i) if i % 3 == 0 else reading_line(r) for i, r in enumerate(readings)
        ]

    def test_a_reading_without_a_line_is_dead_lettered_not_lost(
        self, influx: FakeInflux, spool: Spool, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A reading no line can carry (the decoder lets none through) is kept, and acked."""
        acks = Acks()
        w = make(influx, spool, acks, batch_size=3)
        bad = reading(1)._replace(values={"temperature": float("nan")})
        w.submit_many([(reading(0), 0), (bad, 1), (reading(2), 2)])
        wait_until(lambda: len(acks.tokens) == 3)
        w.stop()
        assert influx.lines == [reading_line(reading(0)), reading_line(reading(2))]
        (dead,) = spool.dead_letters()
        assert "non-finite" in dead.reason and b"TH1" in dead.body
        assert w.stats().dead_lettered_lines == 1
        assert "cannot be written as line protocol" in caplog.text

    def test_too_large_splits(self, influx: FakeInflux, spool: Spool) -> None:
        """A batch InfluxDB finds too large is written in halves."""
        acks = Acks()
        influx.max_lines = 3
        w = make(influx, spool, acks, batch_size=20, flush_interval_s=0.2)
        for i in range(20):
            w.submit(point(i), i)
        wait_until(lambda: len(acks.tokens) == 20)
        w.stop()
        assert sorted(influx.lines) == sorted(point(i) for i in range(20))
        assert spool.dead_letters() == []

    def test_single_line_too_large_is_dead_lettered(self, influx: FakeInflux, spool: Spool) -> None:
        """One line that is too large on its own is kept as a dead letter."""
        acks = Acks()
        influx.max_lines = 0
        w = make(influx, spool, acks)
        w.submit(point(1), 1)
        wait_until(lambda: acks.tokens == [1])
        w.stop()
        assert [d.body for d in spool.dead_letters()] == [point(1).encode()]

    def test_large_backlog_drains_between_live_batches(
        self, influx: FakeInflux, spool: Spool
    ) -> None:
        """Live readings keep being acked while a large backlog drains."""
        for start in range(0, 100_000, 1000):
            spool.append("\n".join(point(i) for i in range(start, start + 1000)).encode(), 1000)
        acks = Acks()
        w = make(influx, spool, acks)
        for i in range(200):
            w.submit(point(200_000 + i), i)
            time.sleep(0.001)
        wait_until(lambda: spool.depth_lines == 0 and len(acks.tokens) == 200, timeout_s=30)
        w.stop()
        assert len(influx.lines) == 100_200
        assert acks.tokens == list(range(200))

    def test_spool_full_during_outage_holds_acks(self, influx: FakeInflux, tmp_path: Path) -> None:
        """With InfluxDB down and the spool full nothing is acked; all is acked in order later."""
        spool = Spool(tmp_path / "small.sqlite", 1500, 80)
        acks = Acks()
        influx.down = True
        w = make(influx, spool, acks, batch_size=10)
        for i in range(300):
            w.submit(f'm,s=x v={i}.0,pad="{i * 7919 % 10007:x}{i * 31 % 97}" {i}', i)
        wait_until(lambda: w.stats().refusing)
        time.sleep(0.3)
        acked_while_full = list(acks.tokens)
        assert len(acked_while_full) < 300
        assert acked_while_full == list(range(len(acked_while_full)))
        assert w.stats().pending == 300 - len(acked_while_full)
        influx.down = False
        wait_until(lambda: len(acks.tokens) == 300)
        w.stop()
        assert acks.tokens == list(range(300))
        assert len({line.split(" ")[-1] for line in influx.lines}) == 300
        assert not w.stats().refusing
        spool.close()

    def test_refusal_is_logged_as_error(
        self, influx: FakeInflux, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A full spool during an outage logs "refusing readings" as an ERROR."""
        caplog.set_level(logging.ERROR, logger="envmon.store.pipeline")
        spool = Spool(tmp_path / "small.sqlite", 10, 80)
        influx.down = True
        w = make(influx, spool, Acks())
        w.submit(point(1), 1)
        wait_until(lambda: w.stats().refusing)
        w.stop(timeout_s=0.2)
        assert any("refusing readings: spool full" in r.getMessage() for r in caplog.records)
        spool.close()

    def test_stop_flushes_what_is_queued(self, influx: FakeInflux, spool: Spool) -> None:
        """stop writes a partial batch at once and acks it before returning."""
        acks = Acks()
        w = make(influx, spool, acks, flush_interval_s=60)
        for i in range(5):
            w.submit(point(i), i)
        started = time.monotonic()
        w.stop()
        assert time.monotonic() - started < 5
        assert acks.tokens == [0, 1, 2, 3, 4]
        assert len(influx.lines) == 5

    def test_stop_during_outage_spools(self, influx: FakeInflux, spool: Spool) -> None:
        """stop during an outage puts the queue in the spool and acks it."""
        acks = Acks()
        influx.down = True
        w = make(influx, spool, acks, flush_interval_s=60)
        for i in range(5):
            w.submit(point(i), i)
        w.stop()
        assert acks.tokens == [0, 1, 2, 3, 4]
        assert spool.depth_lines == 5

    def test_stop_gives_up_when_nothing_can_take_the_data(
        self, influx: FakeInflux, tmp_path: Path
    ) -> None:
        """stop returns within its timeout when the spool is full and InfluxDB down; no acks."""
        spool = Spool(tmp_path / "small.sqlite", 10, 80)
        acks = Acks()
        influx.down = True
        w = make(influx, spool, acks)
        w.submit(point(1), 1)
        started = time.monotonic()
        w.stop(timeout_s=0.5)
        assert time.monotonic() - started < 3
        assert acks.tokens == []
        assert w.stats().pending == 1
        spool.close()

    def test_submit_after_stop_is_refused_loudly(
        self, influx: FakeInflux, spool: Spool, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A reading submitted after stop is logged as an ERROR and never acked."""
        acks = Acks()
        w = make(influx, spool, acks)
        w.stop()
        w.submit(point(1), 1)
        assert acks.tokens == []
        assert influx.lines == []
        assert any(
            r.levelno == logging.ERROR and "stopped" in r.getMessage() for r in caplog.records
        )

    def test_failing_on_durable_does_not_stop_the_writer(
        self, influx: FakeInflux, spool: Spool
    ) -> None:
        """An exception in on_durable is logged and later batches still go through."""
        seen: list[int] = []

        def flaky(tokens: list[int]) -> None:
            seen.extend(tokens)
            if 0 in tokens:
                raise RuntimeError("ack failed")

        w: DurableWriter[int] = DurableWriter(influx, spool, settings(), flaky)
        w.start()
        w.submit(point(0), 0)
        wait_until(lambda: seen == [0])
        w.submit(point(1), 1)
        wait_until(lambda: seen == [0, 1])
        w.stop()
