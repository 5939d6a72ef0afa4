"""The report as the JSON object of the contract (design.md section 6).

Reproducible: the same data gives the same bytes apart from ``generated_at``
(and ``generated_by``): lists are sorted by ``build_report``, floats are
rounded to fixed decimals here, times are RFC 3339 with a ``Z``. The object
carries ``content_sha256``, the SHA-256 of its canonical JSON with
``generated_at``, ``generated_by`` and ``content_sha256`` left out.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final

from envmon.readings import isoformat_ns
from envmon.report.values import DataGap, ExcursionRow, ParameterSummary, Report, RoomSummary

VALUE_DECIMALS: Final = 3
"""Measured values, limits and durations: enough for 0.001 °C / Pa, stable across float sums."""

NOT_HASHED: Final = ("generated_at", "generated_by", "content_sha256")


def rounded(value: float | None, decimals: int = VALUE_DECIMALS) -> float | None:
    """Fixed rounding; ``-0.0`` becomes ``0.0`` so that equal data gives equal bytes."""
    if value is None:
        return None
    return round(value, decimals) + 0.0


def _time(ts_ns: int | None) -> str | None:
    return isoformat_ns(ts_ns) if ts_ns is not None else None


def _parameter_json(p: ParameterSummary) -> dict[str, Any]:
    return {
        "samples": p.samples,
        "expected_samples": p.expected_samples,
        "completeness_pct": p.completeness_pct,
        "min": rounded(p.min),
        "max": rounded(p.max),
        "mean": rounded(p.mean),
        "excursions": {"alert": p.alert_excursions, "action": p.action_excursions},
    }


def _room_json(room: RoomSummary) -> dict[str, Any]:
    out: dict[str, Any] = {"room": room.room, "grade": room.grade, "name": room.name}
    for p in room.parameters:
        out[p.parameter] = _parameter_json(p)
    out["time_in_state_s"] = {state.value: rounded(s) for state, s in room.time_in_state_s}
    out["verdict"] = room.verdict.text
    out["status"] = room.verdict.status
    return out


def _excursion_json(row: ExcursionRow) -> dict[str, Any]:
    e = row.excursion
    return {
        "id": e.id,
        "alarm_id": e.alarm_id,
        "room": e.room,
        "sensor": e.sensor,
        "parameter": e.parameter,
        "level": e.level.value,
        "start": _time(e.start_ns),
        "end": _time(e.end_ns),
        "duration_s": rounded(e.duration_s),
        "peak": rounded(e.peak),
        "limit": rounded(e.limit),
        "room_state": e.room_state,
        "samples": e.samples,
        "acknowledged": row.acknowledged,
        "acknowledged_by": row.acked_by,
        "acknowledged_at": _time(row.acked_ns),
        "comment": row.comment,
    }


def _gap_json(gap: DataGap) -> dict[str, Any]:
    return {
        "sensor": gap.sensor,
        "room": gap.room,
        "start": _time(gap.start_ns),
        "end": _time(gap.end_ns),
        "duration_s": rounded(gap.duration_s),
    }


def content_sha256(obj: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``obj`` without the keys that vary per run."""
    content = {k: v for k, v in obj.items() if k not in NOT_HASHED}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def report_json(report: Report) -> dict[str, Any]:
    """The contract object, extra keys included, with its ``content_sha256``."""
    obj: dict[str, Any] = {
        "batch": report.batch,
        "from": isoformat_ns(report.from_ns),
        "to": isoformat_ns(report.to_ns),
        "generated_at": isoformat_ns(report.generated_ns),
        "generated_by": report.generated_by,
        "envmon_version": report.envmon_version,
        "config_sha256": report.config_sha256,
        "facility_sha256": report.facility_sha256,
        "gap_tolerance_intervals": report.gap_tolerance_intervals,
        "rooms": [_room_json(r) for r in report.rooms],
        "excursions": [_excursion_json(e) for e in report.excursions],
        "data_gaps": [_gap_json(g) for g in report.data_gaps],
    }
    obj["content_sha256"] = content_sha256(obj)
    return obj
