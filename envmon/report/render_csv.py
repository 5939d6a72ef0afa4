"""The report as one CSV file with a section per table.

Each section starts with a row ``# <name>``, then a header row, then its rows,
and ends with an empty row, so a spreadsheet shows the tables one under the
other and a script can split on the ``#`` rows. Values are the JSON's
(same rounding, RFC 3339 times); units are in the parameter header.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from envmon.readings import UNIT_OF_PARAMETER
from envmon.report.contract import report_json
from envmon.report.values import Report

Cell = str | int | float | bool | None
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


def render_csv(report: Report) -> bytes:
    """UTF-8 with a BOM, so that spreadsheet programs read µ and ³ right."""
    obj = report_json(report)
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\r\n")
    meta_keys = [k for k in obj if k not in ("rooms", "excursions", "data_gaps")]
    _section(out, "report", ["key", "value"], [[k, obj[k]] for k in meta_keys])
    _section(
        out,
        "rooms",
        [
            "room",
            "grade",
            "status",
            "verdict",
            *(f"time_{s}_s" for s in ("at_rest", "in_operation")),
        ],
        [
            [
                r["room"],
                r["grade"],
                r["status"],
                r["verdict"],
                r["time_in_state_s"]["at_rest"],
                r["time_in_state_s"]["in_operation"],
            ]
            for r in obj["rooms"]
        ],
    )
    parameter_rows = []
    for summary, room in zip(report.rooms, obj["rooms"], strict=True):
        for p in summary.parameters:
            figures = room[p.parameter]
            parameter_rows.append(
                [
                    room["room"],
                    room["grade"],
                    p.parameter,
                    UNIT_OF_PARAMETER[p.parameter],
                    figures["samples"],
                    figures["expected_samples"],
                    figures["completeness_pct"],
                    figures["min"],
                    figures["max"],
                    figures["mean"],
                    figures["excursions"]["alert"],
                    figures["excursions"]["action"],
                ]
            )
    _section(
        out,
        "parameters",
        [
            "room",
            "grade",
            "parameter",
            "unit",
            "samples",
            "expected_samples",
            "completeness_pct",
            "min",
            "max",
            "mean",
            "alert_excursions",
            "action_excursions",
        ],
        parameter_rows,
    )
    excursion_keys = [
        "id",
        "room",
        "sensor",
        "parameter",
        "level",
        "start",
        "end",
        "duration_s",
        "peak",
        "limit",
        "room_state",
        "samples",
        "acknowledged",
        "acknowledged_by",
        "acknowledged_at",
        "comment",
    ]
    _section(
        out,
        "excursions",
        excursion_keys,
        [[e[k] for k in excursion_keys] for e in obj["excursions"]],
    )
    gap_keys = ["room", "sensor", "start", "end", "duration_s"]
    _section(out, "data_gaps", gap_keys, [[g[k] for k in gap_keys] for g in obj["data_gaps"]])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
