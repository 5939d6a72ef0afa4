"""Audit entries of transients, and what each does to the ``transients`` table.

Part of the fold of ``audit.py``: a ``transient`` entry (one span beyond a
limit that ended before meeting its rules, ``alarms/rules.py``) inserts one
row, keyed by ``transient_id``. The row holds the lossless record and the
columns a report window is selected by.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from envmon.alarms.events import Level, Transient
from envmon.journal.audit_types import AuditEntry, DerivedWrite, canonical_json

KIND_TRANSIENT: Final = "transient"
KINDS: Final = frozenset({KIND_TRANSIENT})

TABLES: Final[Mapping[str, tuple[str, tuple[str, ...]]]] = {
    "transients": ("id", ("id", "room", "start_ns", "end_ns", "record", "audit_seq")),
}

DDL: Final = """
CREATE TABLE IF NOT EXISTS transients (
    id TEXT PRIMARY KEY,
    room TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    record TEXT NOT NULL,
    audit_seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS transients_start ON transients (room, start_ns)
"""


def transient_id(t: Transient) -> str:
    """Deterministic: the same span judged again (a redelivery after a crash) has the
    same id, so it is journaled once."""
    return f"{t.room}/{t.sensor}/{t.parameter}/{t.level.value}/{t.side}/{t.start_ns}"


def transient_to_record(t: Transient) -> dict[str, Any]:
    return {
        "site": t.site,
        "room": t.room,
        "equipment": t.equipment,
        "sensor": t.sensor,
        "parameter": t.parameter,
        "level": t.level.value,
        "side": t.side,
        "start_ns": t.start_ns,
        "end_ns": t.end_ns,
        "peak": t.peak,
        "samples": t.samples,
        "limit": t.limit,
    }


def transient_from_record(record: Mapping[str, Any]) -> Transient:
    values = dict(record)
    values["level"] = Level(values["level"])
    return Transient(**values)


def transient_writes(entry: AuditEntry) -> list[DerivedWrite]:
    record = entry.data["transient"]
    return [
        DerivedWrite(
            "transients",
            entry.subject,
            {
                "id": entry.subject,
                "room": record["room"],
                "start_ns": record["start_ns"],
                "end_ns": record["end_ns"],
                "record": canonical_json(record),
                "audit_seq": entry.seq,
            },
            mode="insert",
        )
    ]
