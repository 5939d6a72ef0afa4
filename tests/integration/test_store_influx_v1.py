"""The store against a real InfluxDB 1.6.7 (v1 API): exact data, outages, restarts, drain rate."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from envmon.readings import Kind, Reading
from envmon.store.config import InfluxSettings
from envmon.store.influx import Outcome, V1Writer, make_writer
from envmon.store.lineproto import reading_line
from envmon.store.pipeline import DurableWriter
from envmon.store.spool import Spool
from tests.support.servers import InfluxDB1
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration
log = logging.getLogger(__name__)

BASE_NS = 1_795_507_200_000_000_000
FIELDS = {
    Kind.PARTICLES: ("particles_0_5um", "particles_5_0um", "sample_volume_l"),
    Kind.CLIMATE: ("temperature", "humidity"),
    Kind.PRESSURE: ("diff_pressure",),
}


def make_readings(n: int, sensors: int = 100, seed: int = 1) -> list[Reading]:
    """``n`` readings over ``sensors`` sensors of all three kinds, with awkward floats."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        s = i % sensors
        kind = Kind.PARTICLES if s < 40 else Kind.CLIMATE if s < 80 else Kind.PRESSURE
        ts = BASE_NS + i * 1_000_003  # distinct, not ms-aligned: nanoseconds must survive
        volume_l: float | None = None
        if kind is Kind.PARTICLES:
            counts = rnd.randrange(0, 5000)
            values = {"particles_0_5um": counts / 0.0283, "particles_5_0um": float(counts % 3)}
            sensor, volume_l = f"PC-{s}", 28.3
        elif kind is Kind.CLIMATE:
            values = {"temperature": rnd.uniform(18, 24), "humidity": rnd.uniform(30, 60)}
            sensor = f"TH-{s}"
        else:
            values = {"diff_pressure": rnd.uniform(5, 20)}
            sensor = f"DP-{s}"
        out.append(
            Reading(
                ts_ns=ts,
                site="site1",
                room=f"R{s % 5}",
                grade="ABCD"[s % 4],
                sensor=sensor,
                kind=kind,
                values=values,
                sample_volume_l=volume_l,
            )
        )
    return out


def stored(server: InfluxDB1) -> dict[tuple[str, int], dict[str, float]]:
    """(sensor, ts_ns) → field values, for every point of the three reading measurements."""
    out: dict[tuple[str, int], dict[str, float]] = {}
    for kind, fields in FIELDS.items():
        res = server.query(f'SELECT * FROM "{kind.value}"')["results"][0]
        for series in res.get("series", []):
            cols = series["columns"]
            for row in series["values"]:
                rec = dict(zip(cols, row, strict=True))
                out[(rec["sensor"], int(rec["time"]))] = {f: rec[f] for f in fields}
    return out


def expected(readings: list[Reading]) -> dict[tuple[str, int], dict[str, float]]:
    out = {}
    for r in readings:
        values = dict(r.values)
        if r.sample_volume_l is not None:
            values["sample_volume_l"] = r.sample_volume_l
        out[(r.sensor, r.ts_ns)] = values
    return out


def total_points(server: InfluxDB1) -> int:
    return (
        server.count("particles", "particles_0_5um")
        + server.count("climate", "temperature")
        + server.count("pressure", "diff_pressure")
    )


class Acks:
    def __init__(self) -> None:
        self.tokens: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, tokens: list[int]) -> None:
        with self._lock:
            self.tokens.extend(tokens)


def v1_settings(server: InfluxDB1, **changes: object) -> InfluxSettings:
    base: dict[str, object] = {
        "url": server.url,
        "api": "v1",
        "database": server.database,
        "timeout_s": 5,
        "batch_size": 1000,
        "flush_interval_s": 0.1,
        "retry_min_s": 0.1,
        "retry_max_s": 1.0,
    }
    base.update(changes)
    return InfluxSettings.model_validate(base)


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    s = Spool(tmp_path / "state" / "spool.sqlite", 200_000_000, 80)
    yield s
    s.close()


class TestV1Writer:
    def test_classifies_real_answers(self, influxdb: InfluxDB1) -> None:
        """OK for good lines, REJECT with the server's message for a type conflict."""
        writer = V1Writer(v1_settings(influxdb))
        assert writer.ping()
        assert writer.write(b"m,s=x v=1.5 1").outcome is Outcome.OK
        result = writer.write(b'm,s=x v="text" 2')
        assert result.outcome is Outcome.REJECT
        assert result.status == 400
        assert "field type conflict" in result.reason
        writer.close()

    def test_unreachable_is_retry(self, influxdb: InfluxDB1) -> None:
        """A stopped server gives RETRY naming the server, not an exception."""
        writer = V1Writer(v1_settings(influxdb))
        influxdb.stop()
        result = writer.write(b"m,s=x v=1.5 1")
        assert result.outcome is Outcome.RETRY
        assert influxdb.url in result.reason
        assert not writer.ping()
        writer.close()

    def test_creates_a_missing_database(self, influxdb: InfluxDB1) -> None:
        """A write to a database that does not exist creates it and stores the point."""
        writer = V1Writer(v1_settings(influxdb, database="fresh"))
        assert writer.write(b"m,s=x v=2.5 1").outcome is Outcome.OK
        assert influxdb.query('SELECT "v" FROM "m"', db="fresh")["results"][0]["series"][0][
            "values"
        ] == [[1, 2.5]]
        writer.close()

    def test_basic_auth(self, tmp_path: Path) -> None:
        """With auth on, the right password writes and a wrong one is RETRY (fix, then replay)."""
        server = InfluxDB1(tmp_path / "auth", auth=True)
        server.start()
        try:
            server.query("CREATE USER admin WITH PASSWORD 'pw' WITH ALL PRIVILEGES")
            server.create_database(user="admin", password="pw")
            good = V1Writer(v1_settings(server, username="admin", password="pw"))
            assert good.write(b"m,s=x v=1.5 1").outcome is Outcome.OK
            bad = V1Writer(v1_settings(server, username="admin", password="wrong"))
            result = bad.write(b"m,s=x v=1.5 2")
            assert (result.outcome, result.status) == (Outcome.RETRY, 401)
            # Creating a missing database goes through the same credentials.
            fresh = V1Writer(v1_settings(server, username="admin", password="pw", database="new"))
            assert fresh.write(b"m,s=x v=2.5 3").outcome is Outcome.OK
            for writer in (good, bad, fresh):
                writer.close()
        finally:
            server.stop()

    def test_make_writer_picks_v1(self, influxdb: InfluxDB1) -> None:
        """``api = "v1"`` gives the /write writer with a description naming url and database."""
        writer = make_writer(v1_settings(influxdb))
        assert isinstance(writer, V1Writer)
        assert writer.description == f"InfluxDB v1 {influxdb.url} db=envmon"
        writer.close()


class TestDurableWriterV1:
    def test_20000_readings_exact(self, influxdb: InfluxDB1, spool: Spool) -> None:
        """20 000 readings from 100 sensors: exactly that many points, values and times exact."""
        readings = make_readings(20_000)
        writer = make_writer(v1_settings(influxdb))
        acks = Acks()
        w: DurableWriter[int] = DurableWriter(writer, spool, v1_settings(influxdb), acks)
        w.start()
        started = time.monotonic()
        for i, r in enumerate(readings):
            w.submit(reading_line(r), i)
        wait_until(lambda: len(acks.tokens) == len(readings), 60)
        elapsed = time.monotonic() - started
        w.stop()
        writer.close()
        log.warning("v1: 20000 readings durable in %.2f s (%.0f/s)", elapsed, 20_000 / elapsed)
        assert acks.tokens == list(range(len(readings)))
        assert stored(influxdb) == expected(readings)
        assert total_points(influxdb) == 20_000
        assert w.stats().written_lines == 20_000
        assert spool.depth_lines == 0

    def test_outage_mid_stream_loses_nothing(self, influxdb: InfluxDB1, spool: Spool) -> None:
        """InfluxDB stopped mid-stream and restarted: every reading arrives exactly once."""
        readings = make_readings(20_000, seed=2)
        writer = make_writer(v1_settings(influxdb))
        acks = Acks()
        w: DurableWriter[int] = DurableWriter(writer, spool, v1_settings(influxdb), acks)
        w.start()
        third = len(readings) // 3
        for i, r in enumerate(readings[:third]):
            w.submit(reading_line(r), i)
            if i % 500 == 0:
                time.sleep(0.05)
        influxdb.stop()
        for i, r in enumerate(readings[third : 2 * third], start=third):
            w.submit(reading_line(r), i)
            if i % 500 == 0:
                time.sleep(0.05)
        # Acks keep flowing during the outage: the spool made them durable.
        wait_until(lambda: len(acks.tokens) == 2 * third, 30)
        assert not w.stats().influx_healthy
        assert spool.depth_lines > 0
        influxdb.start()
        for i, r in enumerate(readings[2 * third :], start=2 * third):
            w.submit(reading_line(r), i)
            if i % 500 == 0:
                time.sleep(0.05)
        wait_until(lambda: len(acks.tokens) == len(readings) and spool.depth_lines == 0, 60)
        w.stop()
        writer.close()
        assert acks.tokens == list(range(len(readings)))
        assert total_points(influxdb) == 20_000
        assert stored(influxdb) == expected(readings)

    def test_backlog_from_a_previous_run_is_replayed(
        self, influxdb: InfluxDB1, tmp_path: Path
    ) -> None:
        """Readings spooled by a run that ended during an outage reach InfluxDB on the next run."""
        readings = make_readings(5_000, seed=3)
        path = tmp_path / "spool.sqlite"
        influxdb.stop()
        spool = Spool(path, 200_000_000, 80)
        writer = make_writer(v1_settings(influxdb))
        w: DurableWriter[int] = DurableWriter(writer, spool, v1_settings(influxdb), Acks())
        w.start()
        for i, r in enumerate(readings):
            w.submit(reading_line(r), i)
        w.stop()
        writer.close()
        assert spool.depth_lines == 5_000
        spool.close()

        influxdb.start()
        spool = Spool(path, 200_000_000, 80)
        writer = make_writer(v1_settings(influxdb))
        w = DurableWriter(writer, spool, v1_settings(influxdb), Acks())
        w.start()
        wait_until(lambda: spool.depth_lines == 0, 60)
        w.stop()
        writer.close()
        spool.close()
        assert stored(influxdb) == expected(readings)

    def test_drain_rate_with_live_traffic(
        self, influxdb: InfluxDB1, spool: Spool, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A 60 000-line backlog drains at least 5x faster than 1 000 live readings/s arrive."""
        backlog = make_readings(60_000, seed=4)
        for start in range(0, len(backlog), 200):  # 200-line batches, as spooled live
            chunk = backlog[start : start + 200]
            spool.append("\n".join(reading_line(r) for r in chunk).encode(), len(chunk))
        live = make_readings(100_000, seed=5)[60_000:]
        writer = make_writer(v1_settings(influxdb))
        acks = Acks()
        w: DurableWriter[int] = DurableWriter(writer, spool, v1_settings(influxdb), acks)
        stop_live = threading.Event()
        sent: list[int] = []

        def publish() -> None:
            # 1 000 readings/s in 10 ms steps.
            for i, r in enumerate(live):
                if stop_live.is_set():
                    return
                w.submit(reading_line(r), i)
                sent.append(i)
                if i % 10 == 9:
                    time.sleep(0.01)

        started = time.monotonic()
        w.start()
        publisher = threading.Thread(target=publish)
        publisher.start()
        wait_until(lambda: spool.depth_lines == 0, 120)
        drain_s = time.monotonic() - started
        stop_live.set()
        publisher.join()
        wait_until(lambda: len(acks.tokens) == len(sent), 30)
        w.stop()
        writer.close()
        rate = len(backlog) / drain_s
        with capsys.disabled():
            print(f"\nspool drain: {len(backlog)} lines in {drain_s:.2f} s = {rate:.0f} lines/s")
        assert rate >= 5 * 1000
        assert total_points(influxdb) == len(backlog) + len(sent)
