"""Electronic signatures end to end through ``envmon run`` (issue 14).

A signed acknowledgement appears with its signature on the retained alarm
topic and in ``envmon alarms --json`` within 2 s; an operator cannot shelve
(exit 2, before the service is involved); an engineer can, and the alarm
unshelves by itself when the shelving ends.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.mqtt_watch import TopicWatcher
from tests.support.servers import InfluxDB1, Mosquitto
from tests.support.service_proc import Publisher, ServiceProcess, write_settings
from tests.support.signing import PASSWORD
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration

FACILITY = """
site = "site1"

[[rooms]]
id = "FILL-A"
grade = "A"

[rooms.limits.diff_pressure]
alert_low = 12.0
action_low = 10.0

[[sensors]]
id = "DP-1"
room = "FILL-A"
kind = "pressure"
interval_s = 10
stale_after_s = 3600
"""
TOPIC = "fac/site1/envmon/alarms/FILL-A/diff_pressure"


class Site:
    """A running service with two users and one action and one alert alarm."""

    def __init__(self, tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB1) -> None:
        facility = tmp_path / "facility.toml"
        facility.write_text(FACILITY)
        self.config = write_settings(tmp_path / "svc", mosquitto, facility, influx=influxdb)
        self.svc = ServiceProcess(self.config, tmp_path / "envmon.log")
        self.svc.start()
        for name, role in (("olga", "operator"), ("jdoe", "engineer")):
            full_name = name.title() + " Example"
            added = self.envmon("user", "add", name, "--role", role, "--full-name", full_name,
                                "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
            assert added.returncode == 0, added.stderr
        self.watcher = TopicWatcher(mosquitto.port)
        pub = Publisher(mosquitto.port)
        now = time.time()
        readings = [(now - 20, 15.0), (now - 10, 5.0)]
        payloads = [("fac/site1/FILL-A/pressure/DP-1", json.dumps({"ts": t, "diff_pressure_pa": v}))
                    for t, v in readings]  # fmt: skip
        assert pub.publish_all([(t, p.encode()) for t, p in payloads]) == 2
        pub.close()
        alarms = wait_for(lambda: len(self.alarms()) == 2 and self.alarms(), what="two alarms")
        self.action = next(a["id"] for a in alarms if a["level"] == "action")
        self.alert = next(a["id"] for a in alarms if a["level"] == "alert")

    def envmon(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "envmon.cli", *args, "--config", str(self.config)],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def signed(self, *args: str, user: str) -> subprocess.CompletedProcess[str]:
        return self.envmon(*args, "--user", user, "--comment", "checked at the room",
                           "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip

    def alarms(self) -> list[dict[str, Any]]:
        result = self.envmon("alarms", "--all", "--json")
        assert result.returncode == 0, result.stderr
        return list(json.loads(result.stdout))

    def alarm(self, alarm_id: str) -> dict[str, Any]:
        return next(a for a in self.alarms() if a["id"] == alarm_id)

    def close(self) -> None:
        self.watcher.close()
        self.svc.ensure_stopped()


@pytest.fixture
def site(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB1) -> Any:
    s = Site(tmp_path, mosquitto, influxdb)
    try:
        yield s
    finally:
        s.close()


class TestSignedActsThroughTheService:
    def test_signed_ack_is_applied_within_2_s(self, site: Site) -> None:
        """The service applies a signed ack: acked_by on the retained topic within 2 s."""
        t0 = time.monotonic()
        result = site.signed("ack", site.action, user="olga")
        assert result.returncode == 0, result.stderr
        wait_for(
            lambda: (
                (m := site.watcher.latest_with("id", site.action)) and m["state"] == "active_acked"
            ),
            timeout_s=2,
            what="acknowledged state on the retained topic",
        )
        assert time.monotonic() - t0 < 2 + 1.5  # the CLI's own start-up is in t0 too
        assert site.alarm(site.action)["acked_by"] == "olga"

    def test_the_signature_is_on_the_topic_and_in_alarms_json(self, site: Site) -> None:
        """The acknowledging signature is on the retained topic and in alarms --json."""
        assert site.signed("ack", site.action, user="olga").returncode == 0
        message = wait_for(
            lambda: (m := site.watcher.latest_with("id", site.action)) and m["signatures"] and m,
            timeout_s=2,
            what="the signature on the retained topic",
        )
        [sig] = message["signatures"]
        assert (sig["user"], sig["full_name"], sig["role"], sig["meaning"]) == (
            "olga",
            "Olga Example",
            "operator",
            "acknowledged",
        )
        assert message["acked_at"] == sig["signed_at"]
        assert site.alarm(site.action)["signatures"] == [sig]

    def test_an_operator_cannot_shelve(self, site: Site) -> None:
        """An operator's shelve is refused: exit 2, and the alarm is unchanged."""
        result = site.signed("shelve", site.alert, "--for", "1h", user="olga")
        assert result.returncode == 2
        assert "role operator, which may not shelve alarms" in result.stderr
        assert site.alarm(site.alert)["state"] == "active_unacked"

    def test_an_engineer_shelves_and_it_unshelves_at_expiry(self, site: Site) -> None:
        """An engineer's shelve is applied (shelved, shelved_until); at its end the alarm
        returns to active_unacked by itself."""
        result = site.signed("shelve", site.alert, "--for", "4s", user="jdoe")
        assert result.returncode == 0, result.stderr
        shelved = wait_for(
            lambda: (
                (m := site.watcher.latest_with("id", site.alert)) and m["state"] == "shelved" and m
            ),
            timeout_s=2,
            what="the shelved state on the retained topic",
        )
        assert shelved["shelved_until"] is not None
        back = wait_for(
            lambda: (
                (m := site.watcher.latest_with("id", site.alert))
                and m["state"] == "active_unacked"
                and m
            ),
            timeout_s=10,
            what="the alarm unshelved at expiry",
        )
        assert back["shelved_until"] is None
        assert [s["meaning"] for s in back["signatures"]] == ["shelved"]
