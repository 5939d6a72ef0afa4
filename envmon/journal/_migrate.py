"""Taking an older journal to the current schema, inside the opening transaction.

The audit trail is never rewritten: a migration builds new derived tables by
folding the entries already there, drops what the new schema replaces, and
appends a ``schema_migrated`` entry saying so.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from envmon.journal._db import Appender, entry_from_row
from envmon.journal.audit_signing import (
    KIND_ACK_OUTCOME,
    KIND_ACK_REQUEST,
    KIND_REQUEST_OUTCOME,
    KIND_SCHEMA_MIGRATED,
    signing_writes,
)

UNSIGNED_REFUSED: Final = (
    "refused: an unsigned acknowledgement queued before electronic signatures; "
    "sign it again with `envmon ack`"
)


def migrate(conn: sqlite3.Connection, version: int, append: Appender) -> None:
    """From schema ``version`` to the current one, a step at a time; the
    caller has created the current schema's new tables and commits."""
    if version == 1:
        _from_1(conn, append)
    if version <= 2:
        _from_2(append)
    if version <= 3:
        _from_3(append)
    append.save_head()


def _from_3(append: Appender) -> None:
    """Schema 4 adds transients, empty: no earlier entry records one."""
    append(KIND_SCHEMA_MIGRATED, "journal", {"from": 3, "to": 4, "detail": "transients"})


def _from_2(append: Appender) -> None:
    """Schema 3 adds the batch registry, empty: no earlier entry records a batch."""
    append(KIND_SCHEMA_MIGRATED, "journal", {"from": 2, "to": 3, "detail": "batch registry"})


def _from_1(conn: sqlite3.Connection, append: Appender) -> None:
    """Schema 1's unsigned ack queue becomes rows of ``requests``; requests
    still pending are refused, since only signed acts may apply now."""
    legacy = conn.execute(
        "SELECT * FROM audit WHERE kind IN (?, ?) ORDER BY seq",
        (KIND_ACK_REQUEST, KIND_ACK_OUTCOME),
    ).fetchall()
    for row in legacy:
        for write in signing_writes(entry_from_row(row)):
            append.apply(write)
    conn.execute("DROP TABLE IF EXISTS ack_requests")
    append(
        KIND_SCHEMA_MIGRATED,
        "journal",
        {"from": 1, "to": 2, "detail": "users, signatures, signed requests of every act"},
    )
    pending = conn.execute(
        "SELECT id, subject FROM requests WHERE outcome IS NULL ORDER BY id"
    ).fetchall()
    for request_id, subject in pending:
        append(KIND_REQUEST_OUTCOME, subject, {"id": request_id, "outcome": UNSIGNED_REFUSED})
