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
        "ACKNOWLEDGED",
    )
    rows = [header]
    for a in sorted(alarms, key=lambda a: a.raised_ns, reverse=True):
        rows.append(
            (
                a.id,
                _state(a),
                a.level.value,
                a.room,
                a.parameter,
                a.sensor,
                isoformat_ns(a.raised_ns),
                _fmt(a.peak),
                _fmt(a.limit),
                _acknowledged(a),
            )
        )
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    return "\n".join(lines) + "\n"


def _state(alarm: Alarm) -> str:
    if alarm.shelved and alarm.shelved_until_ns is not None:
        return f"shelved until {isoformat_ns(alarm.shelved_until_ns)}"
    return alarm.state.value


def _acknowledged(alarm: Alarm) -> str:
    """The acknowledging signature: printed name, when signed, meaning."""
    if alarm.acked_by is None:
        return "-"
    for sig in reversed(alarm.signatures):
        if sig.user == alarm.acked_by and sig.signed_ns == alarm.acked_ns:
            return f"{sig.full_name} {isoformat_ns(sig.signed_ns)} ({sig.meaning})"
    when = f" {isoformat_ns(alarm.acked_ns)}" if alarm.acked_ns is not None else ""
    return f"{alarm.acked_by}{when} (unsigned)"
