"""Issue 13: ``envmon run`` over TLS (client certificates required by Mosquitto) under
sustained load with alarms, with the default settings and with a small socket send
buffer on envmon's side.

Every reading published must be in InfluxDB, exactly, within seconds of the last
publish; every high particle reading in a Grade A room must have raised exactly
one action alarm, whose last state is on its retained topic; the broker must see
one clean connection from envmon and no protocol or socket error.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.fleet import (
    ALARM_HIGH_PER_M3,
    SentReading,
    alarm_readings,
    alarm_rooms_toml,
    facility_toml,
    interleave,
    readings,
)
from tests.support.mqtt_endpoint import Endpoint, start_endpoint
from tests.support.servers import InfluxDB1
from tests.support.service_proc import Publisher, ServiceProcess, write_settings
from tests.support.stored import expected_points, influx_points, wait_all_stored
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration

CLIENT_ID = "envmon-test"
FLEET_SENSORS = 40
ALARM_ROOMS = 8
DRAIN_BOUND_S = 5.0
"""Every reading must be in InfluxDB this long after the publisher's last PUBACK."""
BROKER_ERRORS = ("protocol error", "Socket error", "malformed", "Bad socket", "exceeded")


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[Endpoint]:
    endpoint = start_endpoint(tmp_path / "broker", "tls")
    yield endpoint
    endpoint.broker.stop()


@dataclass(frozen=True)
class Published:
    confirmed: int
    seconds: float
    finished: float
    """``time.monotonic()`` at the publisher's last PUBACK."""

    @property
    def rate_per_s(self) -> float:
        return self.confirmed / self.seconds


def workload(total: int, alarm_every: int) -> tuple[list[SentReading], list[SentReading]]:
    """``total`` readings: the Grade C fleet's, with an alarm-room reading every
    ``alarm_every``-th; returns (all in publish order, the alarm-room ones)."""
    n_alarm = total // alarm_every
    per_room = n_alarm // ALARM_ROOMS | 1  # odd: each room's last reading is high
    alarms = alarm_readings(ALARM_ROOMS, per_room, start_ms=int(time.time() * 1000) - 600_000)
    fleet = readings(FLEET_SENSORS, total - len(alarms))
    return interleave(fleet, alarms), alarms


def start_envmon(
    tmp_path: Path, tls: Endpoint, influx: InfluxDB1, mqtt_extra: str = ""
) -> tuple[ServiceProcess, Path]:
    facility = tmp_path / "facility.toml"
    facility.write_text(facility_toml(FLEET_SENSORS) + "\n" + alarm_rooms_toml(ALARM_ROOMS))
    config = write_settings(
        tmp_path / "svc",
        tls.broker,
        facility,
        influx=influx,
        client_id=CLIENT_ID,
        mqtt_extra=tls.toml() + mqtt_extra,
    )
    svc = ServiceProcess(config, tmp_path / "envmon.log")
    svc.start()
    return svc, config


def publish(tls: Endpoint, sent: list[SentReading], rate_per_s: float) -> Published:
    """Publish at ``rate_per_s`` (QoS 1) from a TLS client; measured, not assumed."""
    pub = Publisher(tls.port, client_id="sensor-gateway", pki=tls.pki)
    try:
        t0 = time.monotonic()
        confirmed = pub.publish_all([(r.topic, r.payload) for r in sent], rate_per_s=rate_per_s)
        finished = time.monotonic()
    finally:
        pub.close()
    return Published(confirmed, finished - t0, finished)


def journal_alarms(config: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, "-m", "envmon.cli", "alarms", "--all", "--json", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return list(json.loads(out.stdout))


def retained_alarms(tls: Endpoint, n_topics: int) -> dict[str, bytes]:
    """The retained messages on the alarm topics, once ``n_topics`` have arrived."""
    got: dict[str, bytes] = {}
    lock = threading.Lock()

    def on_message(client: Any, userdata: Any, msg: Any) -> None:
        if msg.retain:
            with lock:
                got[msg.topic] = bytes(msg.payload)

    client = tls.client("test-alarm-reader")
    client.on_message = on_message
    client.connect("127.0.0.1", tls.port)
    client.subscribe("fac/site1/envmon/alarms/#", qos=1)
    client.loop_start()
    try:
        wait_for(lambda: len(got) >= n_topics, timeout_s=20, what="the retained alarms")
    finally:
        client.disconnect()
        client.loop_stop()
    with lock:
        return dict(got)


def assert_alarms_exact(config: Path, tls: Endpoint, alarms_sent: list[SentReading]) -> None:
    """One action alarm per high reading, each room's last one active and retained."""
    alarms = [a for a in journal_alarms(config) if a["parameter"] == "particles_0_5um"]
    actions = [a for a in alarms if a["level"] == "action"]
    highs: dict[str, int] = {}
    for r in alarms_sent:
        if r.fields["particles_0_5um"] == ALARM_HIGH_PER_M3:
            highs[r.room] = highs.get(r.room, 0) + 1
    raised: dict[str, int] = {}
    for a in actions:
        raised[a["room"]] = raised.get(a["room"], 0) + 1
    assert raised == highs, "not one action alarm per high reading"
    by_id = {a["id"]: a for a in alarms}
    retained = retained_alarms(tls, len(highs))
    assert set(retained) == {f"fac/site1/envmon/alarms/{room}/particles_0_5um" for room in highs}
    for topic, payload in retained.items():
        alarm = json.loads(payload)  # a corrupt payload would fail here
        assert alarm == by_id[alarm["id"]], f"{topic}: retained payload differs from the journal"
        assert (alarm["level"], alarm["state"]) == ("action", "active_unacked"), topic


def assert_one_clean_connection(tls: Endpoint, svc: ServiceProcess) -> None:
    broker_log = tls.broker.log_path.read_text(errors="replace")
    assert broker_log.count(f" as {CLIENT_ID} ") == 1, "envmon connected more than once"
    for error in BROKER_ERRORS:
        assert error not in broker_log, f"broker log: {error!r}\n{tls.broker.log_tail()}"
    log = svc.log()
    assert log.count("MQTT connected") == 1 and "disconnected" not in log


def run_and_check(
    svc: ServiceProcess,
    config: Path,
    tls: Endpoint,
    influx: InfluxDB1,
    *,
    total: int,
    alarm_every: int,
    rate_per_s: float,
) -> tuple[Published, float]:
    """Publish the workload through the running envmon, require every reading stored
    exactly, the alarms exact and one clean connection, stop envmon; returns what
    was published and how long after the last PUBACK all readings were stored."""
    sent, alarms_sent = workload(total, alarm_every)
    published = publish(tls, sent, rate_per_s)
    assert published.confirmed == len(sent)
    stored, done = wait_all_stored(influx, len(sent), timeout_s=60)
    assert stored == len(sent), f"{stored} of {len(sent)} stored after 60 s"
    assert influx_points(influx) == expected_points(sent)
    assert_alarms_exact(config, tls, alarms_sent)
    assert_one_clean_connection(tls, svc)
    code, _ = svc.terminate()
    assert code == 0
    return published, done - published.finished


class TestTlsUnderLoad:
    def test_500_readings_per_s_for_30_s_with_alarms_stored_exactly_and_drained(
        self, tmp_path: Path, tls: Endpoint, influxdb: InfluxDB1
    ) -> None:
        """≥ 500 readings/s for ≥ 30 s over TLS with the default settings, alarms raised
        meanwhile: every reading stored exactly, all within 5 s of the last publish."""
        svc, config = start_envmon(tmp_path, tls, influxdb)
        try:
            published, drained_s = run_and_check(
                svc, config, tls, influxdb, total=18_600, alarm_every=25, rate_per_s=600
            )
            assert published.seconds >= 30 and published.rate_per_s >= 500, published
            assert drained_s <= DRAIN_BOUND_S, f"all stored {drained_s:.1f} s after the last"
        finally:
            svc.ensure_stopped()
        print(
            f"TLS: {published.confirmed} readings at {published.rate_per_s:.0f}/s for "
            f"{published.seconds:.1f} s; all stored {drained_s:.2f} s after the last publish"
        )

    def test_a_small_send_buffer_loses_and_corrupts_nothing(
        self,
        tmp_path: Path,
        tls: Endpoint,
        influxdb: InfluxDB1,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """envmon's socket send buffer at 4 KiB (8 KiB in the kernel), readings at
        ~1 500/s with an alarm transition every 8th, InfluxDB writes every 3 s, so
        each PUBACK batch (~4 500 acks, ~18 kB) is more than the socket takes at
        once and alarm publishes queue behind it: every reading stored exactly,
        every alarm on its retained topic as the journal has it, one connection
        and no protocol error at the broker."""
        monkeypatch.setenv("ENVMON_INFLUX__FLUSH_INTERVAL_S", "3")
        svc, config = start_envmon(
            tmp_path, tls, influxdb, mqtt_extra="socket_send_buffer_bytes = 4096\n"
        )
        try:
            assert "socket send buffer 8192 bytes" in svc.log()
            published, _ = run_and_check(
                svc, config, tls, influxdb, total=12_000, alarm_every=8, rate_per_s=1500
            )
        finally:
            svc.ensure_stopped()
        print(f"small send buffer: {published.confirmed} at {published.rate_per_s:.0f}/s")
