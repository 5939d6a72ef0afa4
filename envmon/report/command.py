"""``envmon report``: gather the journal and InfluxDB, build the report, render it.

This is the I/O edge of the report: it checks the request, queries InfluxDB
and the journal, and hands plain values to ``build_report``. Every problem a
user can cause is one ``EnvmonError`` with a message naming what is wrong.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import envmon
from envmon.batches import Batch
from envmon.calibration import CalibrationRecord
from envmon.errors import EnvmonError
from envmon.facility import Facility, Sensor, parameters_of
from envmon.journal.journal import Journal
from envmon.readings import NS_PER_S, Kind, isoformat_ns
from envmon.report.influxql import InfluxQLClient
from envmon.report.journal_record import read_record
from envmon.report.model import (
    Report,
    ReportInputs,
    build_report,
)
from envmon.report.queries import Measurement, Scope, fetch, room_measurement
from envmon.settings import Settings

FORMATS = ("pdf", "html", "csv", "json")


def _renderer(fmt: str) -> Callable[[Report], bytes]:
    # Imported on demand: matplotlib and reportlab take a second to load and
    # a JSON report needs neither.
    if fmt == "json":
        from envmon.report.render_json import render_json

        return render_json
    if fmt == "csv":
        from envmon.report.render_csv import render_csv

        return render_csv
    if fmt == "html":
        from envmon.report.render_html import render_html

        return render_html
    from envmon.report.render_pdf import render_pdf

    return render_pdf


def resolve_rooms(facility: Facility, requested: Sequence[str] | None) -> tuple[str, ...]:
    """The requested rooms (all of the facility's when none), each checked to exist."""
    if not requested:
        return tuple(sorted(facility.rooms))
    unknown = [r for r in requested if r not in facility.rooms]
    if unknown:
        where = f" in {facility.path}" if facility.path else ""
        raise EnvmonError(
            f"unknown room {', '.join(repr(r) for r in unknown)}: the facility file{where} "
            f"has {', '.join(sorted(facility.rooms))}"
        )
    return tuple(sorted(set(requested)))


def measurements(
    facility: Facility, rooms: Sequence[str], tolerance_intervals: float
) -> list[Measurement]:
    """What to query for the rooms: each room kind, and equipment with the parameters its
    sensors measure. A measurement's gap threshold is the shortest any of its sensors
    could have (the query's filter; each sensor's own is applied in the model)."""
    in_scope = [s for s in facility.model.sensors if s.room in rooms]
    out = []
    for kind in (Kind.PARTICLES, Kind.CLIMATE, Kind.PRESSURE):
        out.append(room_measurement(kind, _threshold(in_scope, kind, tolerance_intervals)))
    on_equipment = [s for s in in_scope if s.kind is Kind.EQUIPMENT]
    measured = {p for s in on_equipment for p in parameters_of(s)}
    out.append(
        Measurement(
            Kind.EQUIPMENT.value,
            tuple(p for p in facility.parameters if p in measured),
            _threshold(in_scope, Kind.EQUIPMENT, tolerance_intervals),
            {s.id: parameters_of(s)[0] for s in on_equipment},
            series_by="equipment",
        )
    )
    return out


def _threshold(sensors: Sequence[Sensor], kind: Kind, tolerance_intervals: float) -> int | None:
    """The shortest gap any sensor of ``kind`` could have; None without such sensors."""
    return min(
        (int(tolerance_intervals * s.interval_s * NS_PER_S) for s in sensors if s.kind is kind),
        default=None,
    )


@dataclass(frozen=True, slots=True)
class ReportScope:
    """The window and rooms a report covers; ``notes`` say what was assumed."""

    from_ns: int
    to_ns: int
    rooms: list[str] | None
    notes: tuple[str, ...] = ()


def batch_scope(
    batch_id: str | None,
    batch: Batch | None,
    from_ns: int | None,
    to_ns: int | None,
    rooms: list[str] | None,
    now_ns: int,
) -> ReportScope:
    """The report's window and rooms: ``--from``/``--to``/``--room`` where given,
    else the registered batch's start, end and rooms (a batch still running
    ends now). Raises ``EnvmonError`` when neither says."""
    notes: list[str] = []
    if batch is None:
        if from_ns is None or to_ns is None:
            if batch_id is None:
                raise EnvmonError("report: give --from and --to, or --batch ID")
            raise EnvmonError(
                f"report: no batch {batch_id!r} in the registry (see `envmon batches`): "
                "give --from and --to"
            )
        if batch_id is not None:
            notes.append(f"batch {batch_id} is not in the registry: named on the report as given")
        return ReportScope(from_ns, to_ns, rooms, tuple(notes))
    end_ns = batch.end_ns
    if to_ns is None and end_ns is None:
        notes.append(f"batch {batch.id} has not ended: the report runs to now")
        end_ns = now_ns
    return ReportScope(
        from_ns=from_ns if from_ns is not None else batch.start_ns,
        to_ns=to_ns if to_ns is not None else int(end_ns or now_ns),
        rooms=rooms if rooms else list(batch.rooms),
        notes=tuple(notes),
    )


def read_batch(path: Path, batch_id: str) -> Batch | None:
    """The registered batch ``batch_id``, or None (also without a journal)."""
    if not path.exists():
        return None
    journal = Journal(path, readonly=True)
    try:
        return journal.batches.get(batch_id)
    finally:
        journal.close()


def generate(
    settings: Settings,
    facility: Facility,
    from_ns: int,
    to_ns: int,
    rooms: list[str] | None,
    batch: str | None,
    fmt: str,
    generated_by: str,
    *,
    now_ns: int | None = None,
    calibration_records: Sequence[CalibrationRecord] = (),
) -> bytes:
    """The report over [from, to) for ``rooms`` (all when None), rendered as ``fmt``.

    ``calibration_records`` are the signed records (``envmon.calibration``); the
    facility file's due dates apply without them.
    """
    if fmt not in FORMATS:
        raise EnvmonError(f"unknown report format {fmt!r} (use one of {', '.join(FORMATS)})")
    if from_ns >= to_ns:
        raise EnvmonError(
            f"report window: --from {isoformat_ns(from_ns)} is not before "
            f"--to {isoformat_ns(to_ns)}"
        )
    room_ids = resolve_rooms(facility, rooms)
    scope = Scope(facility.site, room_ids, from_ns, to_ns)
    tolerance = settings.report.gap_tolerance_intervals
    client = InfluxQLClient(settings.influx)
    measured = fetch(
        client,
        scope,
        measurements(facility, room_ids, tolerance),
        with_series=fmt in ("pdf", "html"),
    )
    if not any(s.samples for s in measured.stats) and not measured.faulted:
        raise EnvmonError(
            f"no readings for {', '.join(room_ids)} from {isoformat_ns(from_ns)} to "
            f"{isoformat_ns(to_ns)} in InfluxDB at {client.url} (database {client.database!r}): "
            "check the window (UTC) and the rooms"
        )
    record = read_record(settings.storage.journal_path, facility, from_ns, to_ns, room_ids, batch)
    room_models = tuple(facility.rooms[r] for r in room_ids)
    sensors = tuple(s for s in facility.model.sensors if s.room in room_ids)
    equipment = tuple(e for e in facility.model.equipment if e.room in room_ids)
    inputs = ReportInputs(
        from_ns=from_ns,
        to_ns=to_ns,
        rooms=room_models,
        sensors=sensors,
        stats=measured.stats,
        spans=measured.spans,
        silences=measured.silences,
        excursions=record.excursions,
        state_changes=record.state_changes,
        gap_tolerance_intervals=tolerance,
        batch=batch,
        generated_ns=now_ns if now_ns is not None else time.time_ns(),
        generated_by=generated_by,
        envmon_version=envmon.__version__,
        config_sha256=settings.config_sha256,
        facility_sha256=facility.sha256,
        series=measured.series,
        equipment=equipment,
        faulted=measured.faulted,
        uncalibrated=measured.uncalibrated,
        calibration_records=tuple(calibration_records),
        parameters=facility.parameters,
        service_periods=record.service_periods,
        alarms=record.alarms,
        limit_loads=record.limit_loads,
        config_loads=record.config_loads,
        audit=record.audit,
        audit_foreign=record.audit_foreign,
        journal_head=record.head,
        transients=record.transients,
    )
    return _renderer(fmt)(build_report(inputs))
