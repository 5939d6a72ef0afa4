"""A batch record QA can trust, end to end through ``envmon run`` (issue 16, first half).

Against real Mosquitto and InfluxDB, with a keyed journal: a signed reload
changes a limit and the journal shows who, why and each key, and the next
alarm uses the new limit; a bare SIGHUP with an edited file is journaled as
unsigned with its difference; an MES batch start and end over MQTT appear in
``envmon batches``; anchors reach InfluxDB and ``envmon audit --verify``
detects a journal whose last entries were deleted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envmon.journal.journal import Journal
from tests.support.servers import InfluxDB1, Mosquitto, free_port
from tests.support.service_proc import Publisher, ServiceProcess, write_settings
from tests.support.signing import PASSWORD
from tests.support.tamper import truncate
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
TIGHTER = FACILITY.replace("alert_low = 12.0", "alert_low = 15.0").replace(
    "action_low = 10.0", "action_low = 13.0"
)
KEY = "e2e journal key, 32 characters or more"


class Site:
    """``envmon run`` with a keyed journal and anchors every half second."""

    def __init__(self, tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB1) -> None:
        self.influxdb = influxdb
        self.facility = tmp_path / "facility.toml"
        self.facility.write_text(FACILITY)
        (tmp_path / "journal_key").write_text(KEY)
        storage = f'journal_key_file = "{tmp_path / "journal_key"}"\nanchor_interval_s = 0.5'
        svc_dir = tmp_path / "svc"
        self.config = write_settings(svc_dir, mosquitto, self.facility, influx=influxdb,
                                     storage=storage)  # fmt: skip
        self.journal_path = svc_dir / "state" / "journal.sqlite"
        self.svc = ServiceProcess(self.config, tmp_path / "envmon.log")
        self.svc.start()
        self.port = mosquitto.port

    def envmon(self, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "envmon.cli", *args, "--config", str(self.config)],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **env},
        )

    def add_user(self, name: str, role: str) -> None:
        added = self.envmon("user", "add", name, "--role", role, "--full-name",
                            name.title() + " Example", "--password-stdin",
                            stdin=PASSWORD + "\n")  # fmt: skip
        assert added.returncode == 0, added.stderr

    def publish(self, *messages: tuple[str, dict[str, Any]]) -> None:
        pub = Publisher(self.port)
        try:
            sent = [(topic, json.dumps(body).encode()) for topic, body in messages]
            assert pub.publish_all(sent) == len(sent)
        finally:
            pub.close()

    def journal(self) -> Journal:
        return Journal(self.journal_path, readonly=True)

    def last_facility_load(self) -> Any:
        with self.journal() as journal:
            return journal.configs.last("facility")

    def alarms(self) -> list[dict[str, Any]]:
        result = self.envmon("alarms", "--all", "--json")
        assert result.returncode == 0, result.stderr
        return list(json.loads(result.stdout))

    def anchored_seq(self) -> int:
        rows = self.influxdb.rows('SELECT max("seq") FROM "audit_anchor"')
        return int(rows[0][1]) if rows else 0

    def close(self) -> None:
        self.svc.ensure_stopped()


@pytest.fixture
def site(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB1) -> Iterator[Site]:
    s = Site(tmp_path, mosquitto, influxdb)
    try:
        yield s
    finally:
        s.close()


class TestConfigurationChanges:
    def test_a_signed_reload_is_journaled_and_its_limit_used(self, site: Site) -> None:
        """Who, why and each key are journaled; the next reading alarms on the new limit."""
        site.add_user("jdoe", "engineer")
        site.facility.write_text(TIGHTER)
        result = site.envmon("reload", "--user", "jdoe", "--reason", "DP floor raised, CC-112",
                             "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "resolved.FILL-A.diff_pressure.in_operation.action_low: 10.0 -> 13.0" in (
            result.stderr
        )
        load = site.last_facility_load()
        assert load.signature.user == "jdoe" and load.signature.role == "engineer"
        assert (load.reason, load.source) == ("DP floor raised, CC-112", "envmon reload")
        changes = {c.key: (c.old, c.new) for c in load.changes}
        assert changes["facility.rooms.FILL-A.limits.diff_pressure.action_low"] == (10.0, 13.0)
        assert changes["resolved.FILL-A.diff_pressure.at_rest.alert_low"] == (12.0, 15.0)

        now = time.time()
        site.publish(("fac/site1/FILL-A/pressure/DP-1", {"ts": now - 1, "diff_pressure_pa": 12.0}))
        alarms = wait_for(
            lambda: [a for a in site.alarms() if a["level"] == "action"], 10, "an action alarm"
        )
        assert alarms[0]["limit"] == 13.0  # under the old limit of 10 Pa this was no alarm

    def test_a_bare_sighup_is_journaled_as_unsigned_with_its_difference(self, site: Site) -> None:
        """An edited file and a SIGHUP: applied, and journaled unsigned with each key."""
        site.facility.write_text(TIGHTER)
        assert site.svc.proc is not None
        site.svc.proc.send_signal(signal.SIGHUP)
        site.svc.wait_log("facility reloaded")
        load = site.last_facility_load()
        assert (load.signed, load.source, load.reason) == (False, "SIGHUP", "")
        changes = {c.key: (c.old, c.new) for c in load.changes}
        assert changes["facility.rooms.FILL-A.limits.diff_pressure.alert_low"] == (12.0, 15.0)
        assert load.to_json()["by"] == "unsigned"
        assert "loaded with 6 changes, unsigned (SIGHUP)" in site.svc.log()


class TestMesBatches:
    def test_an_mes_start_and_end_appear_in_batches(self, site: Site) -> None:
        """Start and end messages on <prefix>/<site>/batch are in the registry, from the topic."""
        now = time.time()
        site.publish(
            ("fac/site1/batch", {"batch": "LOT-42", "event": "start", "rooms": ["FILL-A"],
                                 "ts": now - 120, "product": "CAR-T"}),
            ("fac/site1/batch", {"batch": "LOT-42", "event": "end", "ts": now - 10}),
        )  # fmt: skip

        def listed() -> list[dict[str, Any]]:
            result = site.envmon("batches", "--json")
            assert result.returncode == 0, result.stderr
            return [b for b in json.loads(result.stdout) if b["end"] is not None]

        [batch] = wait_for(listed, 10, "the batch ended in the registry")
        assert (batch["id"], batch["product"], batch["rooms"]) == ("LOT-42", "CAR-T", ["FILL-A"])
        mes = {"how": "mqtt", "topic": "fac/site1/batch"}
        assert batch["started_by"] == mes and batch["ended_by"] == mes


class TestAnchors:
    def test_anchors_are_written_and_truncation_is_detected(self, site: Site) -> None:
        """The journal verifies against its anchors; with its last entries deleted it fails,
        though the chain alone still looks whole; without InfluxDB it is not verified."""
        with site.journal() as journal:
            head, _ = journal.head()
        wait_for(lambda: site.anchored_seq() >= head, 10, "the chain head anchored")
        verified = site.envmon("audit", "--verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "audit trail intact" in verified.stdout and "anchors in InfluxDB agree" in (
            verified.stdout
        )
        assert "HMAC-SHA256 under the journal key" in verified.stdout

        code, _ = site.svc.terminate()
        assert code == 0
        with site.journal() as journal:
            entries = journal.audit_entries()
        assert [e.kind for e in entries][-2:] == ["config_load", "config_load"]
        truncate(site.journal_path, entries[-1].seq - 1)

        tampered = site.envmon("audit", "--verify")
        assert tampered.returncode == 1, tampered.stdout
        assert f"the journal ends at seq {entries[-1].seq - 1}, but InfluxDB anchored seq" in (
            tampered.stdout
        )
        assert site.envmon("audit", "--verify", "--chain-only").returncode == 0

        dead = f"http://127.0.0.1:{free_port()}"
        unreachable = site.envmon("audit", "--verify", ENVMON_INFLUX__URL=dead)
        assert unreachable.returncode == 3
        assert f"NOT VERIFIED: anchors: InfluxDB at {dead} is unreachable" in unreachable.stdout
        assert "intact" not in unreachable.stdout


class TestBatchRecordReport:
    def test_the_report_of_a_batch_with_a_fault_and_a_signed_reload(self, site: Site) -> None:
        """``envmon report --batch``: the faulted reading excluded and counted, the fault alarm
        with its signature, the limits before and after a signed reload mid-batch as two
        intervals with their sources, the batch signatures in the audit extract, and the
        journal head as the journal has it."""
        site.add_user("jdoe", "engineer")
        signing = ("--user", "jdoe", "--password-stdin")
        site.publish(("fac/site1/FILL-A/state", {"state": "in_operation"}))
        with site.journal() as journal:
            wait_for(lambda: journal.room_state_changes(0, time.time_ns()), 10, "FILL-A's state")

        def signed(*args: str) -> None:
            result = site.envmon(*args, *signing, stdin=PASSWORD + "\n")
            assert result.returncode == 0, result.stderr

        signed("batch", "start", "LOT-7", "--rooms", "FILL-A", "--comment", "line cleared")
        reading = "fac/site1/FILL-A/pressure/DP-1"
        now = time.time()
        site.publish((reading, {"ts": now, "diff_pressure_pa": 15.0}),
                     (reading, {"ts": now + 0.1, "diff_pressure_pa": 15.0,
                                "status": "sensor_fault"}))  # fmt: skip
        [fault] = wait_for(
            lambda: [a for a in site.alarms() if a["level"] == "fault"], 10, "the fault alarm"
        )
        signed("ack", fault["id"], "--comment", "transmitter reseated")
        site.facility.write_text(TIGHTER)
        signed("reload", "--reason", "DP floor raised, CC-112")
        site.publish((reading, {"ts": time.time(), "diff_pressure_pa": 16.0}))
        wait_for(lambda: site.influxdb.count("pressure", "diff_pressure") == 2, 10, "2 readings")
        signed("batch", "end", "LOT-7", "--comment", "filled")

        result = site.envmon("report", "--batch", "LOT-7", "--format", "json")
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        with site.journal() as journal:
            seq, sha256 = journal.head()
            reload = journal.configs.last("facility")
            start = journal.configs.in_force(reload.at_ns - 1)
        assert report["journal_head"] == {"seq": seq, "sha256": sha256}

        [room] = report["rooms"]
        figures = room["diff_pressure"]
        assert (figures["samples"], figures["faulted_samples"], figures["min"]) == (2, 1, 15.0)
        assert "1 sensor fault alarm" in room["verdict"]

        [alarm] = report["alarms"]
        assert (alarm["id"], alarm["parameter"], alarm["acked_by"]) == (
            fault["id"], "sensor_fault", "jdoe",
        )  # fmt: skip
        [signature] = alarm["signatures"]
        assert (signature["user"], signature["full_name"], signature["meaning"],
                signature["comment"]) == ("jdoe", "Jdoe Example", "acknowledged",
                                          "transmitter reseated")  # fmt: skip

        limits = [r for r in report["limits_in_force"] if r["parameter"] == "diff_pressure"]
        assert [(r["room_state"], r["alert_low"], r["action_low"], r["source"]["seq"],
                 r["source"]["signed"], r["source"]["by"], r["source"]["load"])
                for r in limits] == [
            ("in_operation", 12.0, 10.0, start.seq, False, None, "service start"),
            ("in_operation", 15.0, 13.0, reload.seq, True, "jdoe", "envmon reload"),
        ]  # fmt: skip
        assert limits[0]["to"] == limits[1]["from"] == report["config_changes"][0]["at"]
        [change] = report["config_changes"]
        assert (change["signed"], change["by"]["user"], change["reason"]) == (
            True, "jdoe", "DP floor raised, CC-112",
        )  # fmt: skip
        assert {"key": "resolved.FILL-A.diff_pressure.in_operation.action_low", "old": 10.0,
                "new": 13.0} in change["changes"]  # fmt: skip

        signatures = [r["text"] for r in report["audit_extract"] if r["kind"] == "signature"]
        assert [t.split(" signed ")[1].split(",")[0] for t in signatures] == [
            "batch of LOT-7", f"ack of {fault['id']}", "reload of facility", "batch of LOT-7",
        ]  # fmt: skip
        assert all(t.startswith("Jdoe Example (engineer)") for t in signatures)
