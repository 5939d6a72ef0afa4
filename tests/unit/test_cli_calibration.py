"""``envmon calibration record|list`` in-process, check-config's calibration lines, and
the equipment column of ``envmon alarms``."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from envmon.alarms.engine import AlarmEngine
from envmon.alarms.events import Level
from envmon.facility import parse_facility
from envmon.journal.journal import Journal
from tests.support.cli_run import Run
from tests.support.journal_samples import alarm, raised
from tests.support.signing import PASSWORD, ServiceStandIn

pytestmark = pytest.mark.usefixtures("cheap")

FACILITY = """
site = "site1"

[[rooms]]
id = "PREP-C"
grade = "C"

[[equipment]]
id = "INC-01"
room = "PREP-C"
type = "incubator"

[[sensors]]
id = "TH-1"
room = "PREP-C"
kind = "climate"
calibration_due = 2020-01-31
certificate = "CAL-2019-0007"

[[sensors]]
id = "INC-01-S1"
equipment = "INC-01"
kind = "equipment"
parameters = ["temperature"]
"""
TODAY = datetime.now(UTC).date()
NEXT_YEAR = (TODAY + timedelta(days=365)).isoformat()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "facility.toml").write_text(FACILITY)
    path = tmp_path / "envmon.toml"
    path.write_text('[storage]\nstate_dir = "state"\n[facility]\nfile = "facility.toml"\n')
    return path


@pytest.fixture
def bare(config: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Run:
    """The command, before anyone was added (no journal yet)."""
    return Run(config, monkeypatch, capsys)


@pytest.fixture
def run(bare: Run) -> Iterator[Run]:
    """The command, with an operator (olga) and an engineer (jdoe)."""
    for name, role in (("olga", "operator"), ("jdoe", "engineer")):
        full_name = f"{name.title()} Example"
        rc, _, err = bare("user", "add", name, "--role", role, "--full-name", full_name,
                          "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
        assert rc == 0, err
    yield bare


def journal_path(config: Path) -> Path:
    return config.parent / "state" / "journal.sqlite"


def journal_rows(config: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, for "nothing changed" checks."""
    with sqlite3.connect(journal_path(config)) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: db.execute(f"SELECT * FROM {t}").fetchall() for t in tables}


def record(
    run: Run, *args: str, user: str = "jdoe", password: str = PASSWORD
) -> tuple[int, str, str]:
    return run.signed("calibration", "record", *args, user=user, password=password)


def listed(run: Run) -> dict[str, dict[str, Any]]:
    rc, out, err = run("calibration", "list", "--json")
    assert rc == 0, err
    return {row["sensor"]: row for row in json.loads(out)}


@pytest.fixture
def service(config: Path, run: Run) -> Iterator[ServiceStandIn]:
    """Something applying signed requests, as ``envmon run`` does."""
    facility = parse_facility(FACILITY)
    with ServiceStandIn(journal_path(config), AlarmEngine(facility, start_ns=0)) as stand_in:
        yield stand_in


class TestRecord:
    def test_a_record_is_applied_and_listed(self, run: Run, service: ServiceStandIn) -> None:
        """An engineer's record is signed, applied, and listed as the state in force."""
        rc, out, err = record(run, "TH-1", "--due", NEXT_YEAR, "--certificate", "CAL-2026-0412")
        assert rc == 0, err
        assert out.startswith(
            f"calibration of TH-1 recorded: due {NEXT_YEAR}, certificate CAL-2026-0412: "
            "signed by Jdoe Example (jdoe, engineer) at "
        )
        assert out.rstrip().endswith("meaning 'approved'")
        th = listed(run)["TH-1"]
        assert (th["due"], th["certificate"], th["state"], th["source"]) == (
            NEXT_YEAR, "CAL-2026-0412", "in_date", "signed_record"
        )  # fmt: skip
        assert th["days_left"] == 365 and th["overdue_since"] is None
        assert th["record"]["signed_by"] == "jdoe" and th["record"]["full_name"] == "Jdoe Example"
        assert th["pending"] == []
        rc, out, _ = run("calibration", "list")
        line = next(x for x in out.splitlines() if x.startswith("TH-1"))
        assert "in date, 365 days left" in line and "by Jdoe Example (jdoe)" in line
        assert run("audit", "--verify", "--chain-only")[0] == 0

    def test_wrong_password_exits_2_and_records_nothing(self, run: Run, config: Path) -> None:
        """A wrong password: exit 2, one line; only the refused attempt is journaled."""
        before = journal_rows(config)
        rc, out, err = record(run, "TH-1", "--due", NEXT_YEAR, "--certificate", "C-1",
                              password="not my password")  # fmt: skip
        assert (rc, out) == (2, "")
        assert err == "envmon: signature refused: user name or password is wrong\n"
        after = journal_rows(config)
        assert {t for t in after if after[t] != before[t]} == {
            "audit", "chain_head", "failed_signatures"
        }  # fmt: skip
        th = listed(run)["TH-1"]
        assert (th["source"], th["state"], th["pending"]) == ("facility_file", "overdue", [])

    def test_an_operator_may_not_record_a_calibration(self, run: Run, config: Path) -> None:
        """An operator is refused (exit 2) and nothing is queued."""
        before = journal_rows(config)
        rc, _, err = record(run, "TH-1", "--due", NEXT_YEAR, "--certificate", "C-1", user="olga")
        assert rc == 2
        assert err == (
            "envmon: signature refused: user olga has role operator, which may not record "
            "calibrations\n"
        )
        assert journal_rows(config)["requests"] == before["requests"]

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (("NOPE", "--due", NEXT_YEAR, "--certificate", "C"), "no sensor 'NOPE' in "),
            (("TH-1", "--due", "2020-02-01", "--certificate", "C"),
             "due date 2020-02-01 is in the past"),
            (("TH-1", "--due", NEXT_YEAR, "--certificate", " "),
             "the certificate reference is empty"),
            (("TH-1", "--due", "next week", "--certificate", "C"), "--due 'next week': not a date"),
        ],
    )  # fmt: skip
    def test_refused_before_the_password(
        self, run: Run, config: Path, args: tuple[str, ...], message: str
    ) -> None:
        """Unknown sensor, past due date, empty certificate, bad date: exit 1 with one
        line, no password read, nothing journaled."""
        before = journal_rows(config)
        rc, out, err = record(run, *args)
        assert (rc, out) == (1, "")
        assert err.startswith("envmon: error: ") and message in err
        assert err.count("\n") == 1
        assert journal_rows(config) == before

    def test_without_the_service_the_record_waits(self, run: Run) -> None:
        """No service: exit 3, and the list shows the record as waiting, not in force."""
        rc, _, err = run("calibration", "record", "TH-1", "--due", NEXT_YEAR, "--certificate",
                         "C-9", "--user", "jdoe", "--comment", "annual", "--password-stdin",
                         "--wait", "0.2", stdin=PASSWORD + "\n")  # fmt: skip
        assert rc == 3 and "signed and queued" in err
        th = listed(run)["TH-1"]
        assert th["source"] == "facility_file"
        assert [(p["due"], p["certificate"]) for p in th["pending"]] == [(NEXT_YEAR, "C-9")]
        out = run("calibration", "list")[1]
        assert f"waiting for the service: TH-1 due {NEXT_YEAR}, certificate C-9" in out


class TestList:
    def test_without_a_journal_the_file_dates(self, bare: Run) -> None:
        """Before the service ever ran, the list shows the facility file's dates."""
        rows = listed(bare)
        th = rows["TH-1"]
        assert (th["due"], th["certificate"], th["state"], th["days_left"]) == (
            "2020-01-31", "CAL-2019-0007", "overdue", None
        )  # fmt: skip
        assert th["overdue_since"] == "2020-02-01T00:00:00Z"
        sensor = rows["INC-01-S1"]
        assert (sensor["equipment"], sensor["state"], sensor["due"]) == ("INC-01", "not_set", None)
        out = bare("calibration", "list")[1]
        assert out.splitlines()[0].split() == [
            "SENSOR", "ROOM", "EQUIPMENT", "DUE", "CERTIFICATE", "STATE", "FROM"
        ]  # fmt: skip
        assert "OVERDUE since 2020-02-01T00:00:00Z" in out and "no due date" in out


class TestCheckConfig:
    def test_check_config_shows_the_signed_record(
        self, run: Run, service: ServiceStandIn, config: Path
    ) -> None:
        """check-config reads the records from the journal and says where each date is from."""
        assert record(run, "TH-1", "--due", NEXT_YEAR, "--certificate", "CAL-9")[0] == 0
        rc, out, _ = run("check-config")
        assert rc == 0
        assert f"calibration records: 1 signed, from the journal {journal_path(config)}" in out
        line = next(x for x in out.splitlines() if "calibration due" in x and "CAL-9" in x)
        assert f"calibration due {NEXT_YEAR}, certificate CAL-9 [record signed " in line
        assert "by jdoe]: in date, 365 days left" in line

    def test_check_config_without_a_journal(self, bare: Run, config: Path) -> None:
        """Without a journal, check-config says so and shows the file's dates."""
        rc, out, _ = bare("check-config")
        assert rc == 0
        assert (
            f"calibration records: 0 signed, from none: no journal at {journal_path(config)}" in out
        )
        assert "calibration due 2020-01-31, certificate CAL-2019-0007 [facility file]" in out


class TestAlarmsTable:
    def test_equipment_alarms_show_their_equipment(self, run: Run, config: Path) -> None:
        """The text table has an EQUIPMENT column: the equipment's id, or '-' for a room's."""
        journal = Journal(journal_path(config))
        journal.record_events(
            [
                raised(alarm("A1", room="PREP-C", sensor="INC-01-S1", parameter="temperature",
                             equipment="INC-01")),
                raised(alarm("A2", room="PREP-C", sensor="TH-1", parameter="humidity",
                             level=Level.ALERT, raised_ns=1)),
            ]
        )  # fmt: skip
        journal.close()
        rc, out, _ = run("alarms")
        assert rc == 0
        header, first, second = out.splitlines()
        assert header.split()[:6] == ["ID", "STATE", "LEVEL", "ROOM", "EQUIPMENT", "PARAMETER"]
        assert first.split()[:6] == ["A1", "active_unacked", "action", "PREP-C", "INC-01",
                                     "temperature"]  # fmt: skip
        assert second.split()[:6] == ["A2", "active_unacked", "alert", "PREP-C", "-", "humidity"]
