"""Issue 2 end to end: ``envmon run`` between a real Mosquitto and a real database.

Every test publishes an exact set of readings and then requires exactly that
set back from the database: same count, values and timestamps. The delivery
tests run with each MQTT reader (``[mqtt] reader``), over plain TCP and TLS.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fleet import FIELDS_BY_KIND, SentReading, readings, write_facility
from tests.support.mqtt_endpoint import Endpoint
from tests.support.servers import InfluxDB1, Mosquitto, VictoriaMetrics
from tests.support.service_proc import Publisher, ServiceProcess, write_settings
from tests.support.stored import (
    expected_points,
    influx_points,
    wait_for_count,
)

pytestmark = pytest.mark.integration

N_SENSORS = 100
N_READINGS = 20_000
N_KILLED_READINGS = 10_000
"""The SIGKILL test's stream: 5 s at 2 000/s, killed at 3 s and down for 2 s."""
CLIENT_LOG = {"buffered": "buffered reader", "paho": "plain paho"}
"""The start of the client's name in envmon's "MQTT client: ..." line."""


def publish_in_background(
    pub: Publisher, sent: list[SentReading], rate_per_s: float
) -> tuple[threading.Thread, list[int]]:
    """Publish at a steady rate while the test breaks things; ``confirmed`` gets the count."""
    confirmed: list[int] = []
    thread = threading.Thread(
        target=lambda: confirmed.append(
            pub.publish_all([(r.topic, r.payload) for r in sent], rate_per_s=rate_per_s)
        )
    )
    thread.start()
    return thread, confirmed


def assert_exactly_delivered(
    thread: threading.Thread, confirmed: list[int], influx: InfluxDB1, sent: list[SentReading]
) -> None:
    """The broker confirmed every reading, and InfluxDB holds exactly those, no more."""
    thread.join(timeout=120)
    assert confirmed == [len(sent)]
    assert wait_for_count(influx, len(sent), timeout_s=120) == len(sent)
    assert influx_points(influx) == expected_points(sent)


@pytest.fixture
def facility(tmp_path: Path) -> Path:
    return write_facility(tmp_path / "facility.toml", N_SENSORS)


@pytest.fixture
def service_factory(tmp_path: Path) -> Iterator[list[ServiceProcess]]:
    started: list[ServiceProcess] = []
    yield started
    for svc in started:
        svc.ensure_stopped()


def start_service(config: Path, tmp_path: Path, started: list[ServiceProcess]) -> ServiceProcess:
    svc = ServiceProcess(config, tmp_path / "envmon.log")
    started.append(svc)
    svc.start()
    return svc


class TestExactDelivery:
    def test_v1_api_stores_every_reading_exactly(
        self,
        tmp_path: Path,
        endpoint: Endpoint,
        reader: str,
        influxdb: InfluxDB1,
        facility: Path,
        service_factory: list[ServiceProcess],
    ) -> None:
        """20 000 readings from 100 sensors arrive in InfluxDB 1.x with exact values and times."""
        config = write_settings(
            tmp_path / "svc",
            endpoint.broker,
            facility,
            influx=influxdb,
            mqtt_extra=f'reader = "{reader}"\n' + endpoint.toml(),
        )
        svc = start_service(config, tmp_path, service_factory)
        assert f"MQTT client: {CLIENT_LOG[reader]}" in svc.log()
        sent = readings(N_SENSORS, N_READINGS)
        pub = Publisher(endpoint.port, pki=endpoint.pki)
        t0 = time.monotonic()
        assert pub.publish_all([(r.topic, r.payload) for r in sent]) == N_READINGS
        assert wait_for_count(influxdb, N_READINGS) == N_READINGS
        elapsed = time.monotonic() - t0
        pub.close()
        assert influx_points(influxdb) == expected_points(sent)
        code, stop_s = svc.terminate()
        assert code == 0
        assert stop_s < 10
        print(
            f"v1, {reader} reader, {endpoint.transport}: {N_READINGS} readings stored in "
            f"{elapsed:.1f} s ({N_READINGS / elapsed:.0f}/s end to end); "
            f"SIGTERM exit in {stop_s:.1f} s"
        )

    def test_v2_api_stores_every_reading_exactly(
        self,
        tmp_path: Path,
        mosquitto: Mosquitto,
        reader: str,
        victoria: VictoriaMetrics,
        facility: Path,
        service_factory: list[ServiceProcess],
    ) -> None:
        """The influxdb-client v2 write path stores 20 000 readings exactly (VictoriaMetrics)."""
        config = write_settings(
            tmp_path / "svc",
            mosquitto,
            facility,
            victoria=victoria,
            mqtt_extra=f'reader = "{reader}"\n',
        )
        svc = start_service(config, tmp_path, service_factory)
        sent = readings(N_SENSORS, N_READINGS)
        pub = Publisher(mosquitto.port)
        assert pub.publish_all([(r.topic, r.payload) for r in sent]) == N_READINGS
        pub.close()
        expected: dict[tuple[str, str, int], float] = {}
        for r in sent:
            for field, value in r.fields.items():
                expected[(f"{r.kind}_{field}", r.sensor, r.ts_ms)] = value
        deadline = time.monotonic() + 90
        got: dict[tuple[str, str, int], float] = {}
        while time.monotonic() < deadline:
            got = {}
            kinds = "|".join(FIELDS_BY_KIND)
            for series in victoria.export(f'{{__name__=~"({kinds})_.*"}}'):
                name, sensor = series["metric"]["__name__"], series["metric"]["sensor"]
                for ts, v in zip(series["timestamps"], series["values"], strict=True):
                    got[(name, sensor, ts)] = v
            if len(got) >= len(expected):
                break
            time.sleep(1)
        assert got == expected
        code, _ = svc.terminate()
        assert code == 0


class TestFaults:
    # An InfluxDB outage mid-stream (spooled, replayed exactly once) is proven by
    # test_faults_influx.py, at a higher rate and for longer.

    def test_sigkill_mid_stream_loses_nothing(
        self,
        tmp_path: Path,
        mosquitto: Mosquitto,
        reader: str,
        influxdb: InfluxDB1,
        facility: Path,
        service_factory: list[ServiceProcess],
    ) -> None:
        """SIGKILL while readings flow: after a restart the broker redelivers; exactly N stored."""
        config = write_settings(
            tmp_path / "svc",
            mosquitto,
            facility,
            influx=influxdb,
            mqtt_extra=f'reader = "{reader}"\n',
        )
        svc = start_service(config, tmp_path, service_factory)
        sent = readings(N_SENSORS, N_KILLED_READINGS)
        pub = Publisher(mosquitto.port)
        thread, confirmed = publish_in_background(pub, sent, rate_per_s=2000)
        time.sleep(3)
        svc.kill()
        time.sleep(2)
        svc.start()
        assert_exactly_delivered(thread, confirmed, influxdb, sent)
        pub.close()
        code, _ = svc.terminate()
        assert code == 0
