"""``envmon calibration record|list``: sensors' calibration (design.md section 11).

``record`` signs a new due date and certificate for a sensor (engineer
role; the signature covers sensor, due date and certificate) and waits for
the running service to apply it: ingest stamps readings by it from then on.
``list`` shows each sensor's calibration now, from the facility file or the
signed record in force, and records signed but not yet applied.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from envmon.calibration import CalibrationState, CalibrationStatus, state_of
from envmon.calibration.records import parse_due, record_params, record_problem
from envmon.cli.common import EXIT_OK, Subcommands, open_journal, settings_of
from envmon.cli.signing_io import add_signing_options, check_signing_args, sign_and_wait
from envmon.cli.tables import format_rows
from envmon.errors import EnvmonError
from envmon.facility import Facility, Sensor, load_facility
from envmon.journal.calibration import SignedCalibration
from envmon.journal.journal import Journal
from envmon.readings import isoformat_ns
from envmon.signing.rules import Act


def register(sub: Subcommands) -> None:
    group = sub.group("calibration", "sensors' calibration: record a new due date (signed), list")
    p = group.add(
        "record",
        cmd_record,
        "record a sensor's calibration: its next due date and certificate (signed, engineer)",
    )
    p.add_argument("sensor", metavar="SENSOR")
    p.add_argument("--due", required=True, metavar="DATE", help="next due date, YYYY-MM-DD (UTC)")
    p.add_argument(
        "--certificate", required=True, metavar="REF", help="the certificate's reference"
    )
    add_signing_options(p)

    p = group.add("list", cmd_list, "each sensor's calibration now, and where it comes from")
    p.add_argument("--json", action="store_true", help="print a JSON list")


def cmd_record(args: argparse.Namespace) -> int:
    check_signing_args(args, Act.CALIBRATION)
    settings = settings_of(args)
    facility = load_facility(Path(settings.facility.file))
    sensor = args.sensor
    if sensor not in facility.sensors:
        raise EnvmonError(f"calibration record: no sensor {sensor!r} in {facility.path}")
    due = parse_due(args.due)
    problem = record_problem(sensor, due, args.certificate, facility.sensors, time.time_ns())
    if problem is not None:
        raise EnvmonError(f"calibration record: {problem}")
    params = record_params(due, args.certificate)
    with closing(open_journal(settings, readonly=False)) as journal:
        return sign_and_wait(
            args,
            settings,
            journal,
            Act.CALIBRATION,
            sensor,
            f"calibration of {sensor} recorded: due {params['due']}, "
            f"certificate {params['certificate']}",
            params=lambda: params,
        )


def cmd_list(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    facility = load_facility(Path(settings.facility.file))
    applied: list[SignedCalibration] = []
    pending: list[SignedCalibration] = []
    if settings.storage.journal_path.exists():
        with closing(open_journal(settings)) as journal:
            applied, pending = _signed(journal)
    now_ns = time.time_ns()
    rows = [_row(s, applied, pending, now_ns) for s in facility.model.sensors]
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(_table(facility, rows))
    return EXIT_OK


def _signed(journal: Journal) -> tuple[list[SignedCalibration], list[SignedCalibration]]:
    return journal.calibration.signed(), journal.calibration.signed(pending=True)


def _row(
    sensor: Sensor,
    applied: Sequence[SignedCalibration],
    pending: Sequence[SignedCalibration],
    now_ns: int,
) -> dict[str, Any]:
    """One sensor's calibration now, as ``calibration list --json`` prints it."""
    state = state_of(sensor, [s.record for s in applied], now_ns)
    in_force = next((s for s in applied if s.record == state.record), None)
    overdue = state.status is CalibrationStatus.OVERDUE
    return {
        "sensor": sensor.id,
        "room": sensor.room,
        "equipment": sensor.equipment,
        "due": state.due.isoformat() if state.due is not None else None,
        "certificate": state.certificate,
        "state": state.status.value,
        "days_left": state.days_left(now_ns) if state.status is CalibrationStatus.IN_DATE else None,
        "overdue_since": _overdue_since(state) if overdue else None,
        "source": "facility_file" if in_force is None else "signed_record",
        "record": None if in_force is None else _record_json(in_force),
        "pending": [_record_json(s) for s in pending if s.record.sensor == sensor.id],
    }


def _overdue_since(state: CalibrationState) -> str | None:
    return isoformat_ns(state.overdue_from_ns) if state.overdue_from_ns is not None else None


def _record_json(signed: SignedCalibration) -> dict[str, Any]:
    r = signed.record
    return {
        "due": r.due.isoformat(),
        "certificate": r.certificate,
        "signed_by": r.signed_by,
        "full_name": signed.full_name,
        "signed_at": isoformat_ns(r.signed_ns),
        "request": signed.request_id,
    }


def _table(facility: Facility, rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return f"no sensors in {facility.path}\n"
    table: list[Sequence[object]] = [
        ("SENSOR", "ROOM", "EQUIPMENT", "DUE", "CERTIFICATE", "STATE", "FROM")
    ]
    waiting = []
    for row in rows:
        table.append(
            (
                row["sensor"],
                row["room"],
                row["equipment"] or "-",
                row["due"] or "-",
                row["certificate"] or "-",
                _state_words(row),
                _source_words(row["record"]),
            )
        )
        waiting += [(row["sensor"], p) for p in row["pending"]]
    out = format_rows(table)
    for sensor, p in waiting:
        out += (
            f"waiting for the service: {sensor} due {p['due']}, certificate {p['certificate']}, "
            f"signed {p['signed_at']} by {p['full_name']} ({p['signed_by']}), "
            f"request {p['request']}\n"
        )
    return out


def _state_words(row: dict[str, Any]) -> str:
    if row["state"] == CalibrationStatus.OVERDUE:
        return f"OVERDUE since {row['overdue_since']}"
    if row["state"] == CalibrationStatus.IN_DATE:
        days = row["days_left"]
        return "in date, due today" if days == 0 else f"in date, {days} days left"
    return "no due date"


def _source_words(record: dict[str, Any] | None) -> str:
    if record is None:
        return "facility file"
    return (
        f"signed {record['signed_at']} by {record['full_name']} ({record['signed_by']}), "
        f"request {record['request']}"
    )
