"""The batch record's tables as rows of text (PDF and HTML): alarms with their
signatures and shelvings, sensors out of service, limits in force,
configuration changes and the audit extract."""

from __future__ import annotations

from envmon.report.tables import Rows
from envmon.report.text import number_text, state_label, time_text, where_text
from envmon.report.values import Report
from envmon.signing.signature import Signature


def _signer(signature: Signature | None, empty: str = "-") -> str:
    if signature is None:
        return empty
    return f"{signature.full_name} ({signature.user})"


def alarm_rows(report: Report) -> tuple[list[str], Rows, list[int]]:
    """Every alarm overlapping the window; the indexes of those nobody acknowledged."""
    header = ["Alarm", "Where", "Sensor", "Parameter", "Level", "Raised", "Cleared", "Peak",
              "Limit", "State now", "Acknowledged by"]  # fmt: skip
    rows: Rows = []
    unacked: list[int] = []
    for index, record in enumerate(report.alarms):
        a = record.alarm
        if a.acked_by is None:
            unacked.append(index)
        rows.append(
            [
                a.id,
                where_text(a.room, a.equipment),
                a.sensor,
                report.label(a.parameter),
                a.level.value.upper().replace("_", " "),
                time_text(a.raised_ns),
                time_text(a.cleared_ns, "not cleared"),
                number_text(a.peak, "-"),
                number_text(a.limit, "-"),
                a.state.value.replace("_", " "),
                a.acked_by or "UNACKNOWLEDGED",
            ]
        )
    return header, rows, unacked


def signature_rows(report: Report) -> tuple[list[str], Rows]:
    """Each signature on those alarms, in the order signed."""
    header = ["Alarm", "Printed name (user)", "Role", "Meaning", "Signed at", "Comment"]
    rows = [
        [r.alarm.id, _signer(s), s.role, s.meaning, time_text(s.signed_ns), s.comment]
        for r in report.alarms
        for s in r.alarm.signatures
    ]
    return header, rows


def shelved_rows(report: Report) -> tuple[list[str], Rows]:
    header = ["Alarm", "Shelved from", "To", "Asked until", "By", "Reason", "Unshelved by"]
    rows = [
        [
            r.alarm.id,
            time_text(p.from_ns),
            time_text(p.to_ns, "still shelved"),
            time_text(p.until_ns, "-"),
            _signer(p.by),
            p.by.comment,
            _signer(p.ended_by, "ran out" if p.to_ns is not None else "-"),
        ]
        for r in report.alarms
        for p in r.shelved
    ]
    return header, rows


def service_rows(report: Report) -> tuple[list[str], Rows]:
    """Sensors out of service by signature in the window."""
    where = {c.sensor: where_text(c.room, c.equipment) for c in report.calibration}
    header = ["Sensor", "Where", "From", "To", "By", "Reason", "Returned by"]
    rows = [
        [
            p.sensor,
            where.get(p.sensor, ""),
            time_text(p.from_ns),
            time_text(p.end_ns, "still out of service"),
            _signer(p.signature),
            p.signature.comment,
            _signer(p.return_signature),
        ]
        for p in report.service_periods
    ]
    return header, rows


def limits_rows(report: Report) -> tuple[list[str], Rows]:
    header = ["Where", "Parameter", "Room state", "From", "To", "Alert high", "Action high",
              "Alert low", "Action low", "Configuration load"]  # fmt: skip
    rows = [
        [
            where_text(i.room, i.equipment),
            report.label(i.parameter),
            state_label(i.room_state.value),
            time_text(i.from_ns),
            time_text(i.to_ns),
            number_text(i.limits.alert_high, "-"),
            number_text(i.limits.action_high, "-"),
            number_text(i.limits.alert_low, "-"),
            number_text(i.limits.action_low, "-"),
            i.source.text,
        ]
        for i in report.limits_in_force
    ]
    return header, rows


def change_rows(report: Report) -> tuple[list[str], Rows, list[int]]:
    """One row per key changed by each load; the indexes of unsigned loads' rows."""
    header = ["At", "File", "Signed by", "Reason", "SHA-256", "Key", "Old", "New"]
    rows: Rows = []
    unsigned: list[int] = []
    for load in report.config_changes:
        head = [
            time_text(load.at_ns),
            f"{load.what} ({load.source})",
            _signer(load.signature, "UNSIGNED"),
            load.reason or "-",
            load.sha256[:16],
        ]
        if load.changes is None:
            keys = [["(not compared)", load.note, ""]]
        elif not load.changes:
            keys = [["(nothing changed)", "", ""]]
        else:
            keys = [[c.key, _value(c.old), _value(c.new)] for c in load.changes]
        for key in keys:
            if not load.signed:
                unsigned.append(len(rows))
            rows.append([*head, *key])
    return header, rows, unsigned


def _value(value: object) -> str:
    return "(absent)" if value is None else str(value)


def extract_rows(report: Report) -> tuple[list[str], Rows]:
    header = ["Seq", "At", "Kind", "User", "OS user", "Entry"]
    rows = [
        [str(r.seq), time_text(r.ts_ns), r.kind, r.user or "-", r.os_user, r.text]
        for r in report.audit_extract
    ]
    return header, rows
