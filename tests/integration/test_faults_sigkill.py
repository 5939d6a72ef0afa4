"""Issue 6, faults: SIGKILL at random points, again and again, while readings stream in,
over plain TCP and over TLS with client certificates.

One publisher streams 9 900 readings at 250/s through the whole loop; the
service is SIGKILLed at a random moment (anywhere from right after MQTT
connects to 1.5 s later) and started again, 20 times or more. Interleaved in
the stream, a pressure sensor dips below its action limit for 300 samples.

After the loop: exactly the published readings are in InfluxDB (count,
values, timestamps), and the journal holds that excursion exactly once:
raised once, cleared once, with its true start and end. Its peak and sample
count are exact too: the engine resumes from its checkpoint, and a reading is
acknowledged only once durable and judged.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from envmon.journal.journal import Journal
from tests.integration.test_faults_broker import PublishInBackground
from tests.integration.test_ingest_e2e import expected_points, influx_points, wait_for_count
from tests.support.fleet import facility_toml, readings
from tests.support.mqtt_endpoint import Endpoint
from tests.support.servers import InfluxDB1
from tests.support.service_proc import ServiceProcess, write_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CYCLES = 20
N_SENSORS = 20
N_FLEET = 9_000
RATE_PER_S = 250
PRESSURE_EVERY = 10  # every 10th message is the watched pressure sensor
DIP = range(300, 600)  # indexes of the pressure readings below the action limit
ACTION_LOW_PA = 10.0

WATCHED = """
[[rooms]]
id = "PX"
grade = "B"

[rooms.limits.diff_pressure]
action_low = 10.0

[[sensors]]
id = "PX1"
room = "PX"
kind = "pressure"
interval_s = 1
stale_after_s = 3600
"""


def pressure_value(j: int) -> float:
    return 5.0 + (j % 7) * 0.1 if j in DIP else 15.0 + (j % 5) * 0.1


def build_stream(start_ms: int) -> tuple[list[tuple[str, bytes]], dict, int]:
    """Messages in publish order, the expected stored points, and the pressure count."""
    fleet = readings(N_SENSORS, N_FLEET, start_ms=start_ms)
    expected = expected_points(fleet)
    messages: list[tuple[str, bytes]] = []
    j = 0
    for i, r in enumerate(fleet):
        messages.append((r.topic, r.payload))
        if i % PRESSURE_EVERY == 0:
            ts_ms = start_ms + j * 1000
            value = pressure_value(j)
            payload = json.dumps({"ts": ts_ms / 1000, "diff_pressure_pa": value}).encode()
            messages.append(("fac/site1/PX/pressure/PX1", payload))
            expected[("pressure", "PX1", ts_ms)] = {"diff_pressure": value}
            j += 1
    return messages, expected, j


class TestSigkillLoop:
    def test_twenty_random_sigkills_lose_nothing_and_raise_the_excursion_once(
        self, tmp_path: Path, endpoint: Endpoint, influxdb: InfluxDB1
    ) -> None:
        """≥20 SIGKILL/restart cycles: every reading stored once; the excursion raised once."""
        mosquitto = endpoint.broker
        facility = tmp_path / "facility.toml"
        facility.write_text(facility_toml(N_SENSORS) + "\n" + WATCHED)
        config = write_settings(
            tmp_path / "svc", mosquitto, facility, influx=influxdb, mqtt_extra=endpoint.toml()
        )
        svc = ServiceProcess(config, tmp_path / "envmon.log")
        start_ms = (int(time.time()) - 3 * 3600) * 1000
        messages, expected, n_pressure = build_stream(start_ms)
        assert n_pressure > DIP.stop
        rng = random.Random(20261124)
        publisher = PublishInBackground(mosquitto.port, messages, RATE_PER_S, endpoint.pki)
        cycles = 0
        try:
            svc.start()
            publisher.start()
            while cycles < CYCLES or (publisher.running and cycles < 3 * CYCLES):
                time.sleep(rng.uniform(0.0, 1.5))
                svc.kill()
                cycles += 1
                svc.start()
                # The kill lands after this run's own "MQTT connected" line.
                svc.wait_log("MQTT connected", timeout_s=60, count=cycles + 1)
            assert publisher.confirmed(timeout_s=240) == len(messages)
            assert wait_for_count(influxdb, len(expected), timeout_s=180) == len(expected)
            assert influx_points(influxdb) == expected
            # Let the alarm worker finish the tail of the stream before looking.
            time.sleep(2)
            code, _ = svc.terminate()
            assert code == 0
        finally:
            svc.ensure_stopped()
        assert cycles >= CYCLES

        journal = Journal(tmp_path / "svc" / "state" / "journal.sqlite", readonly=True)
        try:
            alarms = [a for a in journal.alarms(include_closed=True) if a.room == "PX"]
            excursions = [r.excursion for r in journal.excursions(0, 2**62, rooms=["PX"])]
            entries = journal.audit_entries()
            verified = journal.verify()
        finally:
            journal.close()
        assert [(a.parameter, a.level.value, a.state.value) for a in alarms] == [
            ("diff_pressure", "action", "cleared_unacked")
        ]
        raised = [e for e in entries if e.kind == "alarm.raised" and e.subject == alarms[0].id]
        cleared = [e for e in entries if e.kind == "alarm.cleared" and e.subject == alarms[0].id]
        assert (len(raised), len(cleared)) == (1, 1)
        assert len(excursions) == 1
        ex = excursions[0]
        assert ex.start_ns == (start_ms + DIP.start * 1000) * 1_000_000
        assert ex.end_ns == (start_ms + DIP.stop * 1000) * 1_000_000
        assert ex.limit == ACTION_LOW_PA
        assert verified.ok, verified.problems
        true_peak = min(pressure_value(j) for j in DIP)
        print(
            f"SIGKILL loop ({endpoint.transport}): {cycles} cycles survived; "
            f"{len(expected)} readings published, "
            f"{len(expected)} stored, 0 lost; excursion raised once, cleared once; "
            f"excursion peak {ex.peak} (true {true_peak}), samples {ex.samples} of {len(DIP)}"
        )
        # The engine resumes from its checkpoint and acks wait for it: exact.
        assert (ex.peak, ex.samples) == (true_peak, len(DIP))
