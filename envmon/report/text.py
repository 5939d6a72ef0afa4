"""How figures read in the human formats (PDF, HTML, CSV): states, numbers, times.

Parameter labels (``Name (unit)``) come from the facility: ``Report.label``.
"""

from __future__ import annotations

from typing import Final

from envmon.readings import NS_PER_S, StateInForce, isoformat_ns
from envmon.report.contract import rounded

STATE_LABELS: Final = {
    StateInForce.AT_REST: "at rest",
    StateInForce.IN_OPERATION: "in operation",
    StateInForce.CLEAN_UP: "clean-up",
    StateInForce.UNKNOWN: "unknown (strictest)",
}

VERDICT_LABELS: Final = {
    "in_control": "IN CONTROL",
    "review": "REVIEW",
    "not_in_control": "NOT IN CONTROL",
}


def state_label(state: str | None) -> str:
    if state is None:
        return ""
    try:
        return STATE_LABELS[StateInForce(state)]
    except ValueError:
        return state


def time_text(ts_ns: int | None, empty: str = "") -> str:
    """``2026-11-24 10:00:00Z``: RFC 3339 with a space, easier to read in a table."""
    return isoformat_ns(ts_ns).replace("T", " ") if ts_ns is not None else empty


def number_text(value: float | None, empty: str = "") -> str:
    """Rounded as in the JSON; thousands separated by a thin space for counts."""
    v = rounded(value)
    if v is None:
        return empty
    if v == int(v) and abs(v) >= 10_000:
        return f"{int(v):,}".replace(",", " ")
    return f"{v:g}" if abs(v) < 1e6 else f"{v:.6g}"


def where_text(room: str, equipment: str | None, sep: str = " / ") -> str:
    """A room, or a piece of equipment in it: ``CELL-B / INC-01`` (the spaces let a
    narrow table column wrap; the console writes ``CELL-B/INC-01``, as the alarm topics)."""
    return f"{room}{sep}{equipment}" if equipment else room


def duration_text(seconds: float | None, empty: str = "ongoing") -> str:
    """``1 h 02 min 05 s`` style; seconds with decimals only under a minute."""
    if seconds is None:
        return empty
    if seconds < 60:
        return f"{rounded(seconds):g} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {secs:02d} s"
    return f"{minutes} min {secs:02d} s"


def window_text(from_ns: int, to_ns: int) -> str:
    return (
        f"{time_text(from_ns)} to {time_text(to_ns)} "
        f"({duration_text((to_ns - from_ns) / NS_PER_S)})"
    )
