"""The report as one CSV file with a section per table.

Each section starts with a row ``# <name>``, then a header row, then its rows,
and ends with an empty row, so a spreadsheet shows the tables one under the
other and a script can split on the ``#`` rows. Values are the JSON's
(same rounding, RFC 3339 times); each figure row names its unit. Sections:
report, rooms, parameters, equipment, equipment_parameters, excursions,
data_gaps, calibration, and the batch record's (``render_csv_record.py``):
alarms, alarm_signatures, shelved, out_of_service, limits_in_force,
config_changes (one row per key changed), audit_extract. ``journal_head``
is a row of the report section: ``seq sha256``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any, Final

from envmon.report.contract import report_json
from envmon.report.render_csv_record import RECORD_SECTIONS, Cell, record_sections
from envmon.report.values import STATES, EquipmentSummary, Report, RoomSummary

_Writer = Any  # csv's writer type is private (_csv.Writer)


def _cell(value: Cell) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def _section(
    out: _Writer, name: str, header: Sequence[str], rows: Iterable[Sequence[Cell]]
) -> None:
    out.writerow([f"# {name}"])
    out.writerow(list(header))
    for row in rows:
        out.writerow([_cell(v) for v in row])
    out.writerow([])


_FIGURE_KEYS = (
    "samples", "expected_samples", "completeness_pct", "min", "max", "mean",
)  # fmt: skip
_FIGURE_HEADER = [
    "parameter", "unit", *_FIGURE_KEYS, "alert_excursions", "action_excursions",
    "faulted_samples", "uncalibrated_samples",
]  # fmt: skip


def _figures(parameter: str, figures: dict[str, Any]) -> list[Cell]:
    return [
        parameter,
        figures["unit"],
        *(figures[k] for k in _FIGURE_KEYS),
        figures["excursions"]["alert"],
        figures["excursions"]["action"],
        figures["faulted_samples"],
        figures["uncalibrated_samples"],
    ]


def _figure_section(
    out: _Writer,
    name: str,
    keys: Sequence[str],
    summaries: Sequence[RoomSummary | EquipmentSummary],
    objs: Sequence[dict[str, Any]],
) -> None:
    """A row per parameter of each room or piece of equipment: the ``keys`` of its JSON
    object (``objs``, in the order of ``summaries``), then that parameter's figures."""
    _section(
        out,
        name,
        [*keys, *_FIGURE_HEADER],
        [
            [*(item[k] for k in keys), *_figures(p.parameter, item[p.parameter])]
            for summary, item in zip(summaries, objs, strict=True)
            for p in summary.parameters
        ],
    )


_STATE_KEYS: Final = tuple(state.value for state in STATES)


def render_csv(report: Report) -> bytes:
    """UTF-8 with a BOM, so that spreadsheet programs read µ and ³ right."""
    obj = report_json(report)
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\r\n")
    tables = (
        "rooms",
        "equipment",
        "excursions",
        "transients",
        "data_gaps",
        "calibration",
        *RECORD_SECTIONS,
    )
    meta_keys = [k for k in obj if k not in tables]
    _section(out, "report", ["key", "value"], [[k, _meta(obj[k])] for k in meta_keys])
    _section(
        out,
        "rooms",
        ["room", "grade", "status", "verdict", *(f"time_{s}_s" for s in _STATE_KEYS)],
        [
            [r["room"], r["grade"], r["status"], r["verdict"],
             *(r["time_in_state_s"].get(s, 0.0) for s in _STATE_KEYS)]
            for r in obj["rooms"]
        ],
    )  # fmt: skip
    _figure_section(out, "parameters", ("room", "grade"), report.rooms, obj["rooms"])
    _section(
        out,
        "equipment",
        ["equipment", "type", "name", "room", "grade", "status", "verdict"],
        [[e[k] for k in ("equipment", "type", "name", "room", "grade", "status", "verdict")]
         for e in obj["equipment"]],
    )  # fmt: skip
    _figure_section(
        out, "equipment_parameters", ("equipment", "room"), report.equipment, obj["equipment"]
    )
    excursion_keys = [
        "id", "room", "equipment", "sensor", "parameter", "level", "rule", "start", "end",
        "duration_s", "peak", "limit", "room_state", "samples", "acknowledged",
        "acknowledged_by", "acknowledged_at", "comment",
    ]  # fmt: skip
    _section(
        out,
        "excursions",
        excursion_keys,
        [[e[k] for k in excursion_keys] for e in obj["excursions"]],
    )
    transient_keys = [
        "room", "equipment", "parameter", "level", "side", "count", "longest_s", "peak", "limit",
    ]  # fmt: skip
    _section(
        out,
        "transients",
        transient_keys,
        [[t[k] for k in transient_keys] for t in obj["transients"]],
    )
    gap_keys = ["room", "equipment", "sensor", "start", "end", "duration_s"]
    _section(out, "data_gaps", gap_keys, [[g[k] for k in gap_keys] for g in obj["data_gaps"]])
    calibration_keys = ["sensor", "room", "equipment", "due", "certificate", "source", "state"]
    _section(
        out,
        "calibration",
        [*calibration_keys, "overdue", "uncalibrated_samples"],
        [
            [*(c[k] for k in calibration_keys),
             "; ".join(f"{o['start']}/{o['end']}" for o in c["overdue"]),
             c["uncalibrated_samples"]]
            for c in obj["calibration"]
        ],
    )  # fmt: skip
    for name, header, rows in record_sections(obj):
        _section(out, name, header, rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _meta(value: Any) -> Cell:
    if isinstance(value, dict):  # journal_head
        return " ".join(str(v) for v in value.values())
    return value  # type: ignore[no-any-return]
