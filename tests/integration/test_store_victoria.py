"""The v2 write path (influxdb-client, /api/v2/write) against a real VictoriaMetrics."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from envmon.readings import Kind, Reading
from envmon.store.config import InfluxSettings
from envmon.store.influx import Outcome, V2Writer, make_writer
from envmon.store.lineproto import reading_line
from envmon.store.pipeline import DurableWriter
from envmon.store.spool import Spool
from tests.support.servers import VictoriaMetrics
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

BASE_MS = 1_795_507_200_000
NS_PER_MS = 1_000_000


def make_readings(n: int, sensors: int = 100) -> list[Reading]:
    """ms-aligned readings over three kinds (VictoriaMetrics keeps milliseconds, and
    about 12 significant digits, so values are rounded the way sensors report them)."""
    rnd = random.Random(7)
    out = []
    for i in range(n):
        s = i % sensors
        ts = (BASE_MS + i) * NS_PER_MS
        room, grade = f"R{s % 5}", "ABCD"[s % 4]
        volume_l: float | None = None
        if s < 40:
            counts = rnd.randrange(0, 5000)
            values = {
                "particles_0_5um": round(counts * 35.3, 1),
                "particles_5_0um": float(counts % 3),
            }
            kind, sensor, volume_l = Kind.PARTICLES, f"PC-{s}", 28.3
        elif s < 80:
            values = {
                "temperature": round(rnd.uniform(18, 24), 2),
                "humidity": round(rnd.uniform(30, 60), 1),
            }
            kind, sensor = Kind.CLIMATE, f"TH-{s}"
        else:
            values = {"diff_pressure": round(rnd.uniform(5, 20), 2)}
            kind, sensor = Kind.PRESSURE, f"DP-{s}"
        out.append(
            Reading(
                ts_ns=ts,
                site="site1",
                room=room,
                grade=grade,
                sensor=sensor,
                kind=kind,
                values=values,
                sample_volume_l=volume_l,
            )
        )
    return out


def exported(vm: VictoriaMetrics) -> dict[tuple[str, str, int], float]:
    """(metric, sensor, ts_ms) → value for every sample VictoriaMetrics holds."""
    out: dict[tuple[str, str, int], float] = {}
    for series in vm.export('{__name__=~"particles_.*|climate_.*|pressure_.*"}'):
        name, sensor = series["metric"]["__name__"], series["metric"]["sensor"]
        for value, ts in zip(series["values"], series["timestamps"], strict=True):
            key = (name, sensor, ts)
            assert key not in out, f"duplicate sample {key}"
            out[key] = value
    return out


def expected(readings: list[Reading]) -> dict[tuple[str, str, int], float]:
    out = {}
    for r in readings:
        values = dict(r.values)
        if r.sample_volume_l is not None:
            values["sample_volume_l"] = r.sample_volume_l
        for field, value in values.items():
            out[(f"{r.kind.value}_{field}", r.sensor, r.ts_ns // NS_PER_MS)] = value
    return out


def v2_settings(vm: VictoriaMetrics) -> InfluxSettings:
    return InfluxSettings.model_validate(
        {
            "url": vm.url,
            "api": "v2",
            "token": "unused",
            "timeout_s": 5,
            "batch_size": 1000,
            "flush_interval_s": 0.1,
            "retry_min_s": 0.1,
            "retry_max_s": 1.0,
        }
    )


class TestV2Writer:
    def test_writes_and_sorts_errors(self, victoria: VictoriaMetrics) -> None:
        """OK for good lines; RETRY (no exception) once the server is gone."""
        writer = make_writer(v2_settings(victoria))
        assert isinstance(writer, V2Writer)
        assert writer.write(b"m,s=x v=1.5 1000000").outcome is Outcome.OK
        victoria.stop()
        result = writer.write(b"m,s=x v=2.5 2000000")
        assert result.outcome is Outcome.RETRY
        assert "unreachable" in result.reason
        writer.close()


class TestDurableWriterV2:
    def test_20000_readings_exact(self, victoria: VictoriaMetrics, tmp_path: Path) -> None:
        """20 000 readings from 100 sensors reach VictoriaMetrics exactly, once each."""
        readings = make_readings(20_000)
        spool = Spool(tmp_path / "spool.sqlite", 100_000_000, 80)
        writer = make_writer(v2_settings(victoria))
        acked: list[int] = []
        lock = threading.Lock()

        def on_durable(tokens: list[int]) -> None:
            with lock:
                acked.extend(tokens)

        w: DurableWriter[int] = DurableWriter(writer, spool, v2_settings(victoria), on_durable)
        w.start()
        for i, r in enumerate(readings):
            w.submit(reading_line(r), i)
        wait_until(lambda: len(acked) == len(readings), 60)
        w.stop()
        writer.close()
        spool.close()
        assert acked == list(range(len(readings)))
        assert w.stats().written_lines == 20_000
        got = exported(victoria)
        want = expected(readings)
        assert len(got) == len(want)
        assert got == want
