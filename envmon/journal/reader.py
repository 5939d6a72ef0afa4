"""Read-only queries for processes beside the service (the web console).

Opens the journal read-only (SQLite ``mode=ro``; WAL lets it read while the
service writes) and answers what ``Journal`` does not: the chain head, which a
live page polls instead of whole tables, and the audit trail filtered by kind,
subject, user and time.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envmon.journal._db import JournalError, connect, entry_from_row
from envmon.journal.audit import AuditEntry


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which entries to show; every field narrows, None means any.

    ``kind`` matches a kind or, ending in ``.``, every kind it starts
    (``alarm.``); ``user`` matches the named user of a signature or request,
    or the operating-system user; times are UTC nanoseconds, ``to_ns`` excluded.
    """

    kind: str | None = None
    subject: str | None = None
    user: str | None = None
    from_ns: int | None = None
    to_ns: int | None = None
    before_seq: int | None = None
    limit: int = 200


class JournalReader:
    """The journal at ``path``, read-only. Thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._conn = connect(self.path, readonly=True)
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: cannot open the journal: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _query(self, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise JournalError(f"{self.path}: cannot read the journal: {exc}") from None

    def head_seq(self) -> int:
        """The last entry's seq (0 when empty): one row, cheap to poll."""
        rows = self._query("SELECT seq FROM chain_head WHERE id = 1")
        return int(rows[0][0]) if rows else 0

    def kinds(self) -> list[str]:
        """Every kind of entry the trail holds, sorted."""
        return [r[0] for r in self._query("SELECT DISTINCT kind FROM audit ORDER BY kind")]

    def about(self, subject: str, limit: int = 500) -> list[AuditEntry]:
        """Entries whose subject is ``subject`` (an alarm id, a sensor, a room), oldest first."""
        rows = self._query(
            "SELECT * FROM (SELECT * FROM audit WHERE subject = ? ORDER BY seq DESC LIMIT ?) "
            "ORDER BY seq",
            (subject, limit),
        )
        return [entry_from_row(r) for r in rows]

    def audit(self, where: AuditFilter) -> list[AuditEntry]:
        """Entries matching ``where``, newest first, at most ``where.limit``."""
        clauses: list[str] = []
        params: list[Any] = []
        if where.kind:
            if where.kind.endswith("."):
                clauses.append("substr(kind, 1, ?) = ?")
                params += [len(where.kind), where.kind]
            else:
                clauses.append("kind = ?")
                params.append(where.kind)
        if where.subject:
            clauses.append("subject = ?")
            params.append(where.subject)
        if where.user:
            clauses.append(
                "(os_user = ? OR json_extract(data, '$.user') = ? "
                "OR json_extract(data, '$.signature.user') = ?)"
            )
            params += [where.user] * 3
        if where.from_ns is not None:
            clauses.append("ts_ns >= ?")
            params.append(where.from_ns)
        if where.to_ns is not None:
            clauses.append("ts_ns < ?")
            params.append(where.to_ns)
        if where.before_seq is not None:
            clauses.append("seq < ?")
            params.append(where.before_seq)
        sql = "SELECT * FROM audit"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY seq DESC LIMIT ?"
        params.append(where.limit)
        return [entry_from_row(r) for r in self._query(sql, params)]
