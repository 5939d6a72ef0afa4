"""A journal as envmon wrote it with schema 1 (before signatures), for migration tests.

The DDL is schema 1's, verbatim; the entries are chained as schema 1 chained
them, and the derived rows are what schema 1's fold wrote.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from envmon.journal.audit import alarm_to_record, canonical_json
from envmon.journal.audit_types import GENESIS_HASH, AuditEntry, entry_hash
from tests.support.journal_samples import T0, S, alarm

SCHEMA_1 = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    ts_ns INTEGER NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    data TEXT NOT NULL,
    os_user TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_kind ON audit (kind, subject);
CREATE TABLE IF NOT EXISTS chain_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alarms (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    room TEXT NOT NULL,
    level TEXT NOT NULL,
    raised_ns INTEGER NOT NULL,
    record TEXT NOT NULL,
    audit_seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alarms_state ON alarms (state);
CREATE TABLE IF NOT EXISTS excursions (
    id TEXT PRIMARY KEY,
    alarm_id TEXT NOT NULL,
    room TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER,
    record TEXT NOT NULL,
    audit_seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS excursions_start ON excursions (start_ns);
CREATE TABLE IF NOT EXISTS room_states (
    seq INTEGER PRIMARY KEY,
    site TEXT NOT NULL,
    room TEXT NOT NULL,
    state TEXT NOT NULL,
    source TEXT NOT NULL,
    ts_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS room_states_ts ON room_states (room, ts_ns);
-- The alarm engine's per-channel state, for an exact restart. Not part of the
-- audit trail: a recovery cache, rewritten with every batch of judged readings.
CREATE TABLE IF NOT EXISTS engine_checkpoint (
    channel TEXT PRIMARY KEY,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ack_requests (
    id INTEGER PRIMARY KEY,
    alarm_id TEXT NOT NULL,
    "user" TEXT NOT NULL,
    comment TEXT NOT NULL,
    os_user TEXT NOT NULL,
    requested_ns INTEGER NOT NULL,
    outcome TEXT,
    request_seq INTEGER NOT NULL,
    outcome_seq INTEGER
);
"""


def write_v1_journal(path: Path) -> dict[str, Any]:
    """A schema 1 journal at ``path``: one alarm, one applied ack request, one
    pending; returns the alarm record it holds."""
    record = alarm_to_record(alarm("A1"))
    for key in ("signatures", "shelved_until_ns", "underlying_state"):
        record.pop(key)
    entries = [
        (
            "alarm.raised",
            "A1",
            {"transition": "raised", "at_ns": T0, "alarm": record, "excursion": None},
        ),
        ("ack_request", "A1", {"id": 1, "alarm_id": "A1", "user": "alice", "comment": "door"}),
        ("ack_outcome", "A1", {"id": 1, "outcome": "alarm A1 was already acknowledged"}),
        ("ack_request", "A1", {"id": 2, "alarm_id": "A1", "user": "bob", "comment": "checked"}),
    ]
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_1)
    prev = GENESIS_HASH
    for seq, (kind, subject, data) in enumerate(entries, start=1):
        ts = T0 + seq * S
        unhashed = AuditEntry(seq, ts, kind, subject, data, "alice_os", "")
        prev = entry_hash(prev, unhashed.content())
        db.execute(
            "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?)",
            (seq, ts, kind, subject, json.dumps(data), "alice_os", prev),
        )
    db.execute("INSERT INTO chain_head VALUES (1, ?, ?)", (len(entries), prev))
    db.execute(
        "INSERT INTO alarms VALUES ('A1', 'active_unacked', 'FILL-A', 'action', ?, ?, 1)",
        (T0, canonical_json(record)),
    )
    db.execute(
        "INSERT INTO ack_requests VALUES (1, 'A1', 'alice', 'door', 'alice_os', ?, ?, 2, 3)",
        (T0 + 2 * S, "alarm A1 was already acknowledged"),
    )
    db.execute(
        "INSERT INTO ack_requests VALUES (2, 'A1', 'bob', 'checked', 'alice_os', ?, NULL, 4, NULL)",
        (T0 + 4 * S,),
    )
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    return record
