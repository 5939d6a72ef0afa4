"""The service in-process, between a real Mosquitto and a real InfluxDB.

``Service`` is built, started and stopped by the test itself, so the wiring
of its components (router, store, alarm worker, notify, jobs) is exercised
in this process, not only through ``envmon run``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from envmon.alarms.events import Level
from envmon.facility import load_facility
from envmon.service import Service
from envmon.settings import load_settings
from envmon.signing.rules import Act
from tests.support.facilities import SMALL_FACILITY, pressure
from tests.support.mqtt_watch import TopicWatcher
from tests.support.servers import InfluxDB1, Mosquitto
from tests.support.service_proc import Publisher, write_settings
from tests.support.signing import add_user, attempt, signer
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration


def dp_stored(influx: InfluxDB1) -> int:
    return influx.count("pressure", "diff_pressure")


@pytest.fixture
def service_parts(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB1
) -> Iterator[tuple[Path, Publisher]]:
    facility = tmp_path / "facility.toml"
    facility.write_text(SMALL_FACILITY)
    config = write_settings(tmp_path / "svc", mosquitto, facility, influx=influxdb)
    pub = Publisher(mosquitto.port)
    yield config, pub
    pub.close()


def build(config: Path) -> Service:
    settings = load_settings(config)
    return Service(settings, load_facility(settings.facility.file))


class TestServiceInProcess:
    @pytest.mark.usefixtures("cheap")
    def test_readings_stored_alarm_journaled_published_and_acknowledged(
        self,
        service_parts: tuple[Path, Publisher],
        mosquitto: Mosquitto,
        influxdb: InfluxDB1,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """One service in this process stores, judges, publishes, applies an ack, and stops."""
        config, pub = service_parts
        caplog.set_level(logging.INFO, logger="envmon")
        service = build(config)
        service.start()
        watcher = TopicWatcher(mosquitto.port)
        try:
            wait_for(lambda: service.ingest.connected, 10, "the MQTT connection")
            t0 = time.time() - 60
            messages = [pressure(t0 + i, 14.0 if i < 20 or i >= 30 else 8.0) for i in range(50)]
            assert pub.publish_all(messages) == 50
            assert wait_for(lambda: dp_stored(influxdb) == 50, 20, "50 readings stored")

            topic = "fac/site1/envmon/alarms/PREP-C/diff_pressure"
            wait_for(lambda: watcher.latest(topic), 10, "the retained alarm topic")
            alarms = service.journal.alarms(include_closed=True)
            action = next(a for a in alarms if a.level is Level.ACTION)
            assert action.peak == 8.0 and action.samples == 10

            add_user(service.journal, "jdoe", "operator")
            signed = signer(service.journal, time.time_ns).sign(attempt("jdoe", Act.ACK, action.id))
            assert signed.request_id is not None
            outcome = wait_for(
                lambda: service.journal.requests.outcome(signed.request_id), 10, "the ack applied"
            )
            assert outcome == "ok"
            acked = wait_for(
                lambda: (m := watcher.latest(topic)) and m["signatures"] and m, 5, "the signature"
            )
            # Back to normal before the acknowledgement: it closes the alarm.
            assert (acked["id"], acked["acked_by"], acked["state"]) == (action.id, "jdoe", "closed")
        finally:
            watcher.close()
            service.stop()
        assert "components in order: journal, store, notify, alarm worker, " in caplog.text
        assert "envmon stopped" in caplog.text

    def test_a_second_service_continues_without_loss(
        self, service_parts: tuple[Path, Publisher], influxdb: InfluxDB1
    ) -> None:
        """Readings published while the first service stops are stored by the next one."""
        config, pub = service_parts
        t0 = time.time() - 600
        first = build(config)
        first.start()
        try:
            wait_for(lambda: first.ingest.connected, 10, "the MQTT connection")
            assert pub.publish_all([pressure(t0 + i, 14.0) for i in range(300)]) == 300
        finally:
            first.stop()
        assert pub.publish_all([pressure(t0 + 300 + i, 14.0) for i in range(300)]) == 300
        second = build(config)
        second.start()
        try:
            assert wait_for(lambda: dp_stored(influxdb) == 600, 30, "all 600 readings")
        finally:
            second.stop()
