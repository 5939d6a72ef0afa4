"""Issue 17, calibration records end to end through ``envmon run``.

A climate sensor past its due date publishes to a real Mosquitto; ``envmon
run`` stores into a real InfluxDB. Required: one calibration alarm and
flagged readings; ``envmon calibration record`` with a new due date, signed
by an engineer and applied by the service; the next readings stored ``ok``,
the calibration alarm cleared, ``envmon calibration list`` showing the signed
record, the journal verified. Then a restart: the record is loaded from the
journal, and a calibration reminder sent before the restart is not sent again.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.receivers import WebhookReceiver, webhook_receiver
from tests.support.servers import InfluxDB1, Mosquitto
from tests.support.service_proc import Publisher, ServiceProcess, write_settings
from tests.support.signing import PASSWORD
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration

FACILITY = """
site = "site1"

[[rooms]]
id = "PREP-C"
grade = "C"

[[sensors]]
id = "TH-1"
room = "PREP-C"
kind = "climate"
interval_s = 10
stale_after_s = 3600
calibration_due = 2020-01-31
certificate = "CAL-2019-0007"

[[sensors]]
id = "DP-2"
room = "PREP-C"
kind = "pressure"
interval_s = 10
stale_after_s = 3600
calibration_due = {in_3_days}
"""
# Added while the service is down: its reminder shows the restarted check ran.
DP_3 = """
[[sensors]]
id = "DP-3"
room = "PREP-C"
kind = "pressure"
interval_s = 10
stale_after_s = 3600
calibration_due = {in_3_days}
"""
TODAY = datetime.now(UTC).date()
IN_3_DAYS = (TODAY + timedelta(days=3)).isoformat()
NEXT_YEAR = (TODAY + timedelta(days=365)).isoformat()
TOPIC = "fac/site1/PREP-C/climate/TH-1"


class Site:
    """``envmon run`` with a webhook, an engineer, and a publisher."""

    def __init__(
        self, tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB1, hook: WebhookReceiver
    ) -> None:
        self.influx = influxdb
        self.hook = hook
        self.facility = tmp_path / "facility.toml"
        self.facility.write_text(FACILITY.replace("{in_3_days}", IN_3_DAYS))
        extra = f'[notify]\nretry_initial_s = 0.2\n[[notify.webhooks]]\nurl = "{hook.url}"\n'
        self.config = write_settings(
            tmp_path / "svc", mosquitto, self.facility, influx=influxdb, extra=extra
        )
        self.svc = ServiceProcess(self.config, tmp_path / "envmon.log")
        self.svc.start()
        added = self.envmon("user", "add", "jdoe", "--role", "engineer", "--full-name",
                            "Jane Doe", "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
        assert added.returncode == 0, added.stderr
        self.pub = Publisher(mosquitto.port)

    def envmon(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "envmon.cli", *args, "--config", str(self.config)],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def publish(self, *times: float) -> None:
        messages = [
            (TOPIC, json.dumps({"ts": t, "temperature_c": 20.5, "humidity_pct": 45.0}).encode())
            for t in times
        ]
        assert self.pub.publish_all(messages) == len(messages)

    def stored(self) -> list[tuple[float, Any]]:
        """TH-1's stored readings: (temperature, status), oldest first."""
        rows = self.influx.rows('SELECT "temperature", "status" FROM "climate"')
        return [(r[1], r[2]) for r in rows]

    def calibration_alarms(self) -> list[dict[str, Any]]:
        result = self.envmon("alarms", "--all", "--json")
        assert result.returncode == 0, result.stderr
        return [a for a in json.loads(result.stdout) if a["level"] == "calibration"]

    def reminded(self, sensor: str) -> list[dict[str, Any]]:
        return [
            b for b in self.hook.bodies
            if b["transition"] == "reminder" and b["alarm"]["sensor"] == sensor
        ]  # fmt: skip

    def close(self) -> None:
        self.pub.close()
        self.svc.ensure_stopped()


@pytest.fixture
def site(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB1) -> Any:
    with webhook_receiver() as hook:
        s = Site(tmp_path, mosquitto, influxdb, hook)
        try:
            yield s
        finally:
            s.close()


class TestCalibrationRecordEndToEnd:
    def test_a_signed_record_ends_the_overdue_state(self, site: Site) -> None:
        """Overdue readings flagged and one alarm; a signed record; the next readings ok,
        the alarm cleared, the record listed and verified; after a restart the record
        still holds and the reminder sent before is not sent again."""
        now = time.time()
        site.publish(now - 20, now - 10)
        wait_for(lambda: len(site.stored()) == 2, 30, "two overdue readings stored")
        assert site.stored() == [(20.5, "calibration_overdue")] * 2
        [alarm] = wait_for(site.calibration_alarms, 30, "the calibration alarm")
        assert (alarm["sensor"], alarm["parameter"], alarm["state"]) == (
            "TH-1", "calibration", "active_unacked"
        )  # fmt: skip
        wait_for(lambda: site.reminded("DP-2"), 30, "DP-2's reminder at the webhook")

        recorded = site.envmon(
            "calibration", "record", "TH-1", "--due", NEXT_YEAR, "--certificate",
            "CAL-2026-0412", "--user", "jdoe", "--comment", "annual calibration",
            "--password-stdin", stdin=PASSWORD + "\n",
        )  # fmt: skip
        assert recorded.returncode == 0, recorded.stderr
        assert recorded.stdout.startswith(f"calibration of TH-1 recorded: due {NEXT_YEAR}")

        now = time.time()
        site.publish(now, now + 0.5)
        wait_for(lambda: len(site.stored()) == 4, 30, "the next two readings stored")
        assert [status for _, status in site.stored()[2:]] == [None, None]  # ok: no status field
        cleared = wait_for(
            lambda: [a for a in site.calibration_alarms() if a["state"] == "cleared_unacked"],
            10,
            "the calibration alarm cleared",
        )
        assert [a["id"] for a in cleared] == [alarm["id"]]

        listed = site.envmon("calibration", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        th = next(row for row in json.loads(listed.stdout) if row["sensor"] == "TH-1")
        assert (th["due"], th["certificate"], th["state"], th["source"]) == (
            NEXT_YEAR, "CAL-2026-0412", "in_date", "signed_record"
        )  # fmt: skip
        assert (th["record"]["signed_by"], th["record"]["full_name"]) == ("jdoe", "Jane Doe")
        verified = site.envmon("audit", "--verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        self._check_report(site, start=now - 60, signed_at=th["record"]["signed_at"])

        self._restart(site)
        assert "Traceback" not in site.svc.log()

    def _check_report(self, site: Site, start: float, signed_at: str) -> None:
        """The report's calibration section: the signed record, overdue until it was signed."""
        report = site.envmon(
            "report", "--from", str(int(start)), "--to", str(int(time.time()) + 1),
            "--format", "json",
        )  # fmt: skip
        assert report.returncode == 0, report.stderr
        th = next(c for c in json.loads(report.stdout)["calibration"] if c["sensor"] == "TH-1")
        assert (th["due"], th["certificate"], th["state"], th["uncalibrated_samples"]) == (
            NEXT_YEAR, "CAL-2026-0412", "in_date", 2
        )  # fmt: skip
        assert th["source"] == f"record signed {signed_at} by jdoe"
        [overdue] = th["overdue"]
        assert overdue["end"] == signed_at

    def _restart(self, site: Site) -> None:
        """The record is loaded from the journal at start; reminders sent stay sent."""
        assert site.svc.terminate()[0] == 0
        site.facility.write_text(site.facility.read_text() + DP_3.replace("{in_3_days}", IN_3_DAYS))
        site.svc.start()
        wait_for(lambda: site.reminded("DP-3"), 30, "DP-3's reminder after the restart")
        assert len(site.reminded("DP-2")) == 1
        site.publish(time.time())
        wait_for(lambda: len(site.stored()) == 5, 30, "a reading after the restart")
        assert site.stored()[-1] == (20.5, None)
        assert len(site.calibration_alarms()) == 1
