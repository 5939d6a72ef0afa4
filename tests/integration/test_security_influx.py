"""Issue 6, security: InfluxDB with authentication, and secrets kept out of every output.

A real InfluxDB 1.x with ``auth-enabled``: envmon writes with a v1 user and
password from a ``password_file``; unauthenticated writes are refused; a
wrong password spools (never drops) until an operator fixes it. The secret
strings are then looked for in the service log, ``check-config`` output and
a JSON report: they must appear in none.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fleet import FIELDS_BY_KIND, readings, write_facility
from tests.support.servers import InfluxDB1, Mosquitto
from tests.support.service_proc import Publisher, ServiceProcess, write_settings

pytestmark = pytest.mark.integration

ADMIN_PASSWORD = "admin-Pw-0c4d9e"
INFLUX_PASSWORD = "influx-S3cret-b8e2f1"
N_SENSORS = 6
N_READINGS = 300
MEASUREMENTS = tuple((kind, fields[0]) for kind, fields in FIELDS_BY_KIND.items())


def stored(influx: InfluxDB1) -> int:
    total = 0
    for measurement, field in MEASUREMENTS:
        res = influx.query(
            f'SELECT count("{field}") FROM "{measurement}"', user="admin", password=ADMIN_PASSWORD
        )["results"][0]
        assert "error" not in res, res
        for series in res.get("series", []):
            total += int(series["values"][0][1])
    return total


def wait_stored(influx: InfluxDB1, n: int, timeout_s: float = 90.0) -> int:
    deadline = time.monotonic() + timeout_s
    got = 0
    while time.monotonic() < deadline:
        got = stored(influx)
        if got >= n:
            time.sleep(1.0)  # settle: a duplicate would show as more than n
            return stored(influx)
        time.sleep(0.5)
    return got


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "envmon.cli", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def influx_auth(tmp_path: Path) -> Iterator[InfluxDB1]:
    server = InfluxDB1(tmp_path / "influx-auth", auth=True)
    server.start()
    # With no user yet, InfluxDB 1.x lets exactly this statement through.
    server.query(f"CREATE USER admin WITH PASSWORD '{ADMIN_PASSWORD}' WITH ALL PRIVILEGES")
    admin = {"user": "admin", "password": ADMIN_PASSWORD}
    server.create_database(**admin)
    server.query(f"CREATE USER envmon WITH PASSWORD '{INFLUX_PASSWORD}'", **admin)
    server.query('GRANT ALL ON "envmon" TO "envmon"', **admin)
    yield server
    server.stop()


def settings_with_auth(tmp_path: Path, broker: Mosquitto, influx: InfluxDB1) -> Path:
    facility = write_facility(tmp_path / "facility.toml", N_SENSORS)
    secret = tmp_path / "influx_password"
    secret.write_text(INFLUX_PASSWORD + "\n")
    config = write_settings(tmp_path / "svc", broker, facility, influx=influx)
    config.write_text(
        config.read_text().replace(
            "[influx]\n", f'[influx]\nusername = "envmon"\npassword_file = "{secret}"\n', 1
        )
    )
    return config


class TestInfluxAuth:
    def test_unauthenticated_write_is_refused(self, influx_auth: InfluxDB1) -> None:
        """Without credentials InfluxDB answers 401 and stores nothing."""
        req = urllib.request.Request(
            f"{influx_auth.url}/write?db=envmon", data=b"climate temperature=1 1", method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=10)
        assert err.value.code == 401
        assert stored(influx_auth) == 0

    def test_envmon_writes_with_password_and_no_output_shows_a_secret(
        self, tmp_path: Path, mosquitto: Mosquitto, influx_auth: InfluxDB1
    ) -> None:
        """All readings stored with user/password; log, check-config, report hold no secret."""
        config = settings_with_auth(tmp_path, mosquitto, influx_auth)
        check = cli(config, "check-config")
        assert check.returncode == 0, check.stderr
        assert "user envmon, password set" in check.stdout
        svc = ServiceProcess(config, tmp_path / "envmon.log")
        try:
            svc.start()
            sent = readings(N_SENSORS, N_READINGS, start_ms=(int(time.time()) - 600) * 1000)
            pub = Publisher(mosquitto.port)
            assert pub.publish_all([(r.topic, r.payload) for r in sent]) == N_READINGS
            pub.close()
            assert wait_stored(influx_auth, N_READINGS) == N_READINGS
            code, _ = svc.terminate()
            assert code == 0
        finally:
            svc.ensure_stopped()
        report = cli(config, "report", "--from=-1h", "--to=now", "--format=json")
        assert report.returncode == 0, report.stderr
        assert '"rooms"' in report.stdout
        audit = cli(config, "audit")
        influx_auth.stop()
        failed_report = cli(config, "report", "--from=-1h", "--to=now", "--format=json")
        influx_auth.start()
        assert failed_report.returncode == 1
        assert "unreachable" in failed_report.stderr and "Traceback" not in failed_report.stderr
        outputs = {
            "service log": svc.log(),
            "check-config": check.stdout + check.stderr,
            "report": report.stdout + report.stderr,
            "report with InfluxDB down": failed_report.stdout + failed_report.stderr,
            "audit": audit.stdout + audit.stderr,
        }
        for where, text in outputs.items():
            assert INFLUX_PASSWORD not in text, f"the InfluxDB password appears in the {where}"
            assert ADMIN_PASSWORD not in text

    def test_wrong_password_spools_until_fixed_and_loses_nothing(
        self, tmp_path: Path, mosquitto: Mosquitto, influx_auth: InfluxDB1
    ) -> None:
        """A wrong password spools (never drops); all readings arrive once it is fixed."""
        config = settings_with_auth(tmp_path, mosquitto, influx_auth)
        admin = {"user": "admin", "password": ADMIN_PASSWORD}
        influx_auth.query("SET PASSWORD FOR envmon = 'changed-by-someone'", **admin)
        svc = ServiceProcess(config, tmp_path / "envmon.log")
        try:
            svc.start()
            sent = readings(N_SENSORS, N_READINGS)
            pub = Publisher(mosquitto.port)
            assert pub.publish_all([(r.topic, r.payload) for r in sent]) == N_READINGS
            pub.close()
            svc.wait_log("HTTP 401", timeout_s=30)
            time.sleep(2)
            assert stored(influx_auth) == 0
            influx_auth.query(f"SET PASSWORD FOR envmon = '{INFLUX_PASSWORD}'", **admin)
            assert wait_stored(influx_auth, N_READINGS, timeout_s=120) == N_READINGS
            code, _ = svc.terminate()
            assert code == 0
        finally:
            svc.ensure_stopped()
        log = svc.log()
        assert "dead letter" not in log
        assert INFLUX_PASSWORD not in log
