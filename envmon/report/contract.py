"""The report as the JSON object of the contract (design.md sections 6, 10 and 11).

Besides the contract keys: ``equipment`` (one object per piece of equipment,
shaped like a room), ``calibration`` (each sensor's calibration over the
window), per parameter ``faulted_samples``, ``uncalibrated_samples`` and
``unit``, ``equipment`` on excursions and gaps, and ``rule`` on excursions.

The batch record's sections (section 10), as defined here:

- per parameter ``out_of_service_s``: sensor-seconds, the sum over the
  sensors measuring the parameter of each one's signed out-of-service time
  in the window (a sensor's overlapping periods counted once); two sensors
  out for the same hour give 7200. ``out_of_service`` lists the periods:
  ``{sensor, room, equipment, from, to, until, by, returned_by}``.
- ``alarms``: each alarm overlapping the window (raised before ``to``, not
  cleared before ``from``) as ``envmon alarms --json`` shows it now, with
  its ``signatures`` and ``shelved``: ``[{from, to, until, by, reason,
  ended_by}]`` (``to`` null while shelved, ``ended_by`` null when the
  shelving ran out).
- ``limits_in_force``: ``{room, equipment, parameter, room_state,
  alert_high, action_high, alert_low, action_low, from, to, source}`` per
  interval, the window split at each facility load and room-state change;
  ``source`` is ``{seq, sha256, signed, by, load}`` of the journaled load
  (``seq`` null: today's file, the journal holding no load from before the
  window). Parameters without any limit have no rows.
- ``config_changes``: each facility or settings load journaled in the
  window, ``{at, what, path, sha256, by, signed, source, reason, changes,
  note, seq}``; ``by`` is the signature object, or null with ``signed``
  false for an unsigned load; ``changes`` null when there was nothing to
  compare with (``note`` says why).
- ``audit_extract``: ``{seq, at, kind, subject, user, os_user, text}`` per
  journal entry of the window that a reviewer reads (``audit_extract.py``
  says which); never a password, hash or salt.
- ``journal_head``: ``{seq, sha256}`` of the journal when the report was
  made (null without a journal).

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

from envmon.config_load import ConfigLoad
from envmon.readings import isoformat_ns
from envmon.report.alarms import alarm_json
from envmon.report.records import ExtractRow, LimitInterval
from envmon.report.transients import transient_json
from envmon.report.values import (
    DataGap,
    EquipmentSummary,
    ExcursionRow,
    ParameterSummary,
    Report,
    RoomSummary,
    SensorCalibration,
)

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
        "faulted_samples": p.faulted_samples,
        "uncalibrated_samples": p.uncalibrated_samples,
        "unit": p.unit,
        "out_of_service_s": rounded(p.out_of_service_s),
    }


def _room_json(room: RoomSummary) -> dict[str, Any]:
    out: dict[str, Any] = {"room": room.room, "grade": room.grade, "name": room.name}
    for p in room.parameters:
        out[p.parameter] = _parameter_json(p)
    out["time_in_state_s"] = {state.value: rounded(s) for state, s in room.time_in_state_s}
    out["verdict"] = room.verdict.text
    out["status"] = room.verdict.status
    return out


def _equipment_json(item: EquipmentSummary) -> dict[str, Any]:
    out: dict[str, Any] = {
        "equipment": item.equipment,
        "name": item.name,
        "type": item.type,
        "room": item.room,
        "grade": item.grade,
    }
    for p in item.parameters:
        out[p.parameter] = _parameter_json(p)
    out["verdict"] = item.verdict.text
    out["status"] = item.verdict.status
    return out


def _calibration_json(c: SensorCalibration) -> dict[str, Any]:
    return {
        "sensor": c.sensor,
        "room": c.room,
        "equipment": c.equipment,
        "due": c.due.isoformat() if c.due is not None else None,
        "certificate": c.certificate,
        "source": c.source,
        "state": c.state,
        "overdue": [{"start": _time(start), "end": _time(end)} for start, end in c.overdue],
        "uncalibrated_samples": c.uncalibrated_samples,
    }


def _excursion_json(row: ExcursionRow) -> dict[str, Any]:
    e = row.excursion
    return {
        "id": e.id,
        "alarm_id": e.alarm_id,
        "room": e.room,
        "equipment": e.equipment,
        "sensor": e.sensor,
        "parameter": e.parameter,
        "level": e.level.value,
        "rule": e.rule,
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
        "equipment": gap.equipment,
        "start": _time(gap.start_ns),
        "end": _time(gap.end_ns),
        "duration_s": rounded(gap.duration_s),
    }


def _service_json(report: Report) -> list[dict[str, Any]]:
    where = {s.sensor: (s.room, s.equipment) for s in report.calibration}
    out = []
    for p in report.service_periods:
        room, equipment = where.get(p.sensor, (None, None))
        out.append(
            {
                "sensor": p.sensor,
                "room": room,
                "equipment": equipment,
                "from": _time(p.from_ns),
                "to": _time(p.end_ns),
                "until": _time(p.until_ns),
                "by": p.signature.to_json(),
                "returned_by": (
                    p.return_signature.to_json() if p.return_signature is not None else None
                ),
            }
        )
    return out


def _limits_json(interval: LimitInterval) -> dict[str, Any]:
    limits = interval.limits
    return {
        "room": interval.room,
        "equipment": interval.equipment,
        "parameter": interval.parameter,
        "room_state": interval.room_state.value,
        "alert_high": rounded(limits.alert_high),
        "action_high": rounded(limits.action_high),
        "alert_low": rounded(limits.alert_low),
        "action_low": rounded(limits.action_low),
        "from": _time(interval.from_ns),
        "to": _time(interval.to_ns),
        "source": interval.source.to_json(),
    }


def _change_json(load: ConfigLoad) -> dict[str, Any]:
    out = load.to_json()
    out["by"] = load.signature.to_json() if load.signature is not None else None
    out["signed"] = load.signed
    return out


def _extract_json(row: ExtractRow) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "at": _time(row.ts_ns),
        "kind": row.kind,
        "subject": row.subject,
        "user": row.user,
        "os_user": row.os_user,
        "text": row.text,
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
        "equipment": [_equipment_json(e) for e in report.equipment],
        "excursions": [_excursion_json(e) for e in report.excursions],
        "data_gaps": [_gap_json(g) for g in report.data_gaps],
        "calibration": [_calibration_json(c) for c in report.calibration],
        "out_of_service": _service_json(report),
        "alarms": [alarm_json(a) for a in report.alarms],
        "limits_in_force": [_limits_json(i) for i in report.limits_in_force],
        "config_changes": [_change_json(c) for c in report.config_changes],
        "audit_extract": [_extract_json(r) for r in report.audit_extract],
        "transients": [transient_json(t, rounded) for t in report.transients],
        "journal_head": (
            {"seq": report.journal_head.seq, "sha256": report.journal_head.sha256}
            if report.journal_head is not None
            else None
        ),
    }
    obj["content_sha256"] = content_sha256(obj)
    return obj
