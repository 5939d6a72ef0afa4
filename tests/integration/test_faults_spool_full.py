"""Issue 6, faults: the spool cannot take more while InfluxDB is down.

Two ways to run out: the configured bound (``storage.spool_max_mb``) and a
really full disk (a 2 MB tmpfs as the state dir, filled up by a ballast file).
In both, envmon must stop acknowledging (so the broker keeps the readings),
say loudly that it is refusing, and bring every reading in once space or
InfluxDB returns. A SIGKILL while refusing proves that nothing not durable
was acknowledged: the restarted service still gets every reading.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_ingest_e2e import expected_points, influx_points, wait_for_count
from tests.support.fleet import readings, write_facility
from tests.support.servers import InfluxDB1, Mosquitto
from tests.support.service_proc import Publisher, ServiceProcess, write_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N_SENSORS = 50
N_READINGS = 6_000
RATE_PER_S = 1_000
SPOOL_MAX_MB = 0.03  # ~31 KB of compressed line protocol: a few thousand readings
REFUSING = "refusing readings: spool full"


def publish(port: int, n: int = N_READINGS) -> list:
    sent = readings(N_SENSORS, n)
    pub = Publisher(port)
    try:
        assert pub.publish_all([(r.topic, r.payload) for r in sent], rate_per_s=RATE_PER_S) == n
    finally:
        pub.close()
    return sent


class TestSpoolBound:
    def test_bound_reached_refuses_loudly_and_recovers_when_influxdb_returns(
        self, tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB1
    ) -> None:
        """31 KB spool, InfluxDB down: envmon refuses; InfluxDB back: all 6 000 stored once."""
        facility = write_facility(tmp_path / "facility.toml", N_SENSORS)
        config = _settings_with_spool_bound(tmp_path, mosquitto, facility, influxdb)
        svc = ServiceProcess(config, tmp_path / "envmon.log")
        try:
            svc.start()
            influxdb.stop()
            sent = publish(mosquitto.port)
            svc.wait_log(REFUSING, timeout_s=60)
            assert "is full" in svc.log()
            assert svc.alive()
            influxdb.start()
            assert wait_for_count(influxdb, N_READINGS, timeout_s=120) == N_READINGS
            assert influx_points(influxdb) == expected_points(sent)
            svc.wait_log("readings are being acknowledged again", timeout_s=30)
            code, _ = svc.terminate()
            assert code == 0
        finally:
            svc.ensure_stopped()

    def test_sigkill_while_refusing_loses_nothing(
        self, tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB1
    ) -> None:
        """Killed while refusing, restarted with InfluxDB back: all 6 000 stored once."""
        facility = write_facility(tmp_path / "facility.toml", N_SENSORS)
        config = _settings_with_spool_bound(tmp_path, mosquitto, facility, influxdb)
        svc = ServiceProcess(config, tmp_path / "envmon.log")
        try:
            svc.start()
            influxdb.stop()
            sent = publish(mosquitto.port)
            svc.wait_log(REFUSING, timeout_s=60)
            svc.kill()
            influxdb.start()
            svc.start()
            assert wait_for_count(influxdb, N_READINGS, timeout_s=120) == N_READINGS
            assert influx_points(influxdb) == expected_points(sent)
            code, _ = svc.terminate()
            assert code == 0
        finally:
            svc.ensure_stopped()
        assert "waiting from before" in svc.log()  # the spooled part survived the kill


def _settings_with_spool_bound(
    tmp_path: Path, broker: Mosquitto, facility: Path, influx: InfluxDB1
) -> Path:
    config = write_settings(tmp_path / "svc", broker, facility, influx=influx)
    text = config.read_text().replace(
        "[storage]\n", f"[storage]\nspool_max_mb = {SPOOL_MAX_MB}\n", 1
    )
    config.write_text(text)
    return config


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs to hold the state dir; skipped where mounting is not permitted."""
    mount_point = tmp_path / "svc" / "state"
    mount_point.mkdir(parents=True)
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("a tmpfs needs root and mount(8): the spool_max_mb variant covers the bound")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


class TestDiskFull:
    def test_full_disk_refuses_loudly_and_recovers_when_space_returns(
        self, tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB1, tiny_disk: Path
    ) -> None:
        """Full 2 MB tmpfs: envmon refuses; space back, then InfluxDB back: all stored once."""
        facility = write_facility(tmp_path / "facility.toml", N_SENSORS)
        config = write_settings(tmp_path / "svc", mosquitto, facility, influx=influxdb)
        svc = ServiceProcess(config, tmp_path / "envmon.log")
        ballast = tiny_disk / "ballast"
        try:
            svc.start()
            influxdb.stop()
            free = shutil.disk_usage(tiny_disk).free
            ballast.write_bytes(b"\0" * max(0, free - 48 * 1024))
            sent = publish(mosquitto.port)
            svc.wait_log(REFUSING, timeout_s=60)
            assert "disk is full" in svc.log()
            assert svc.alive()
            ballast.unlink()  # space returns, InfluxDB still down
            svc.wait_log("readings are being acknowledged again", timeout_s=60)
            influxdb.start()
            assert wait_for_count(influxdb, N_READINGS, timeout_s=120) == N_READINGS
            assert influx_points(influxdb) == expected_points(sent)
            code, _ = svc.terminate()
            assert code == 0
        finally:
            svc.ensure_stopped()
