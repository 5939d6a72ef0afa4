"""Issue 6, faults: InfluxDB down for 30 s while 500 readings/s stream in.

The issue asks for ten minutes; the time scale is shortened to 30 s (15 000
readings spooled; it was 60 s until the suite neared CI's 15 minutes), which
exercises the same path: every batch goes to the
spool, a probe retries with backoff, and once InfluxDB answers the backlog
drains FIFO between live batches. Exactly the published set must be stored.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.integration.test_faults_broker import PublishInBackground
from tests.integration.test_ingest_e2e import expected_points, influx_points, wait_for_count
from tests.support.fleet import readings, write_facility
from tests.support.servers import InfluxDB1, Mosquitto
from tests.support.service_proc import ServiceProcess, write_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N_SENSORS = 100
RATE_PER_S = 500
OUTAGE_S = 30
N_READINGS = RATE_PER_S * (OUTAGE_S + 15)  # 5 s before, 10 s after the outage

_STATS = re.compile(r"stats: .* spool (\d+) lines")


def spool_depths(log: str) -> list[int]:
    """The spool depth of every periodic stats line, in order."""
    return [int(m.group(1)) for m in _STATS.finditer(log)]


class TestInfluxOutage:
    def test_half_minute_outage_at_500_per_s_spools_then_drains_exactly(
        self, tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB1
    ) -> None:
        """22 500 readings, 30 s with InfluxDB down: spool fills, drains to 0, all stored once."""
        facility = write_facility(tmp_path / "facility.toml", N_SENSORS)
        config = write_settings(tmp_path / "svc", mosquitto, facility, influx=influxdb)
        svc = ServiceProcess(config, tmp_path / "envmon.log")
        sent = readings(N_SENSORS, N_READINGS)
        try:
            svc.start()
            publisher = PublishInBackground(
                mosquitto.port, [(r.topic, r.payload) for r in sent], RATE_PER_S
            ).start()
            time.sleep(5)
            influxdb.stop()
            time.sleep(OUTAGE_S)
            assert svc.alive()
            depth_at_return = max(spool_depths(svc.log())[-3:], default=0)
            influxdb.start()
            assert publisher.confirmed(timeout_s=180) == N_READINGS
            assert wait_for_count(influxdb, N_READINGS, timeout_s=180) == N_READINGS
            assert influx_points(influxdb) == expected_points(sent)
            svc.wait_log("spool drained", timeout_s=60)
            svc.wait_log("spool 0 lines", timeout_s=30)
            code, _ = svc.terminate()
            assert code == 0
        finally:
            svc.ensure_stopped()
        log = svc.log()
        peak = max(spool_depths(log))
        # RATE_PER_S * OUTAGE_S readings arrive while it is down; allow for a slow machine.
        assert peak >= 0.6 * RATE_PER_S * OUTAGE_S, peak
        assert depth_at_return >= 0.6 * RATE_PER_S * OUTAGE_S, depth_at_return
        drained = re.search(r"spool drained: (\d+) lines replayed in ([\d.]+) s", log)
        assert drained is not None
        assert int(drained.group(1)) >= 0.6 * RATE_PER_S * OUTAGE_S, drained.group(0)
        print(
            f"InfluxDB outage {OUTAGE_S} s at {RATE_PER_S}/s: spool peak {peak} lines, "
            f"{drained.group(1)} replayed in {drained.group(2)} s; "
            f"{N_READINGS} published, {N_READINGS} stored, 0 lost"
        )
