"""Plain-text tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence

from envmon.alarms.events import Alarm
from envmon.readings import isoformat_ns


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def format_alarm_table(alarms: Sequence[Alarm]) -> str:
    """One line per alarm, most recent first; an empty list says so."""
    if not alarms:
        return "no alarms\n"
    header = (
        "ID",
        "STATE",
        "LEVEL",
        "ROOM",
        "PARAMETER",
        "SENSOR",
        "RAISED",
        "PEAK",
        "LIMIT",
        "ACKED BY",
    )
    rows = [header]
    for a in sorted(alarms, key=lambda a: a.raised_ns, reverse=True):
        rows.append(
            (
                a.id,
                a.state.value,
                a.level.value,
                a.room,
                a.parameter,
                a.sensor,
                isoformat_ns(a.raised_ns),
                _fmt(a.peak),
                _fmt(a.limit),
                a.acked_by or "-",
            )
        )
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    return "\n".join(lines) + "\n"
