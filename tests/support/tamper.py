"""What someone who can write the journal file (but lacks the key) does to it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from envmon.journal.audit_types import AuditEntry, entry_hash


def _entries(db: sqlite3.Connection, from_seq: int) -> list[AuditEntry]:
    rows = db.execute(
        "SELECT seq, ts_ns, kind, subject, data, os_user, hash FROM audit WHERE seq >= ? "
        "ORDER BY seq",
        (from_seq,),
    ).fetchall()
    return [AuditEntry(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6]) for r in rows]


def rehash_plain(path: Path, from_seq: int) -> None:
    """Re-chain every entry from ``from_seq`` on with plain SHA-256 and fix the head,
    as after editing an entry without the journal key."""
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT hash FROM audit WHERE seq = ?", (from_seq - 1,)).fetchone()
        prev = row[0] if row else "0" * 64
        for entry in _entries(db, from_seq):
            prev = entry_hash(prev, entry.content())
            db.execute("UPDATE audit SET hash = ? WHERE seq = ?", (prev, entry.seq))
        db.execute("UPDATE chain_head SET hash = ? WHERE id = 1", (prev,))


def edit_data(path: Path, seq: int, data: dict[str, object]) -> None:
    """Replace one entry's data (its hash now disagrees)."""
    with sqlite3.connect(path) as db:
        db.execute("UPDATE audit SET data = ? WHERE seq = ?", (json.dumps(data), seq))


def drop_keying(path: Path) -> None:
    """Delete the chain_keyed entry and re-chain everything with SHA-256, renumbered:
    a journal made to look as if it had never been keyed."""
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM audit WHERE kind = 'chain_keyed'")
        entries = _entries(db, 1)
        db.execute("DELETE FROM audit")
        prev = "0" * 64
        for seq, entry in enumerate(entries, start=1):
            moved = AuditEntry(seq, entry.ts_ns, entry.kind, entry.subject, entry.data,
                               entry.os_user, "")  # fmt: skip
            prev = entry_hash(prev, moved.content())
            db.execute(
                "INSERT INTO audit (seq, ts_ns, kind, subject, data, os_user, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (seq, entry.ts_ns, entry.kind, entry.subject, json.dumps(entry.data),
                 entry.os_user, prev),
            )  # fmt: skip
        db.execute("UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1", (len(entries), prev))


def truncate(path: Path, keep_upto: int) -> None:
    """Delete every entry after ``keep_upto`` and point the head at the last one kept,
    so that the file alone looks whole (the entries deleted must have no derived rows)."""
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM audit WHERE seq > ?", (keep_upto,))
        [last_hash] = db.execute("SELECT hash FROM audit WHERE seq = ?", (keep_upto,)).fetchone()
        db.execute("UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1", (keep_upto, last_hash))
