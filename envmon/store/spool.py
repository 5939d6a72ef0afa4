"""The durable local spool: batches InfluxDB could not take yet, on disk, FIFO.

SQLite in WAL mode with ``synchronous=FULL``: ``append`` returns only once
the batch is on disk, so the caller may acknowledge its readings. Bodies are
zlib-compressed (line protocol shrinks about tenfold). The spool is bounded
by ``max_bytes`` of stored (compressed) bodies; it warns as it fills and
raises ``SpoolFull`` rather than grow past the bound or the disk.

Batches InfluxDB refused (``REJECT``) go to a separate dead-letter table
with the reason: kept for an operator, never dropped, not counted in the
bound (they are few, and refusing live readings for them would be worse).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from envmon.errors import EnvmonError

log = logging.getLogger(__name__)

_WARN_STEP_PCT: Final = 5.0
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS batch (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    body BLOB NOT NULL,
    lines INTEGER NOT NULL,
    spooled_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letter (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    body BLOB NOT NULL,
    lines INTEGER NOT NULL,
    reason TEXT NOT NULL,
    dead_at REAL NOT NULL
);
"""


class SpoolFull(Exception):
    """The spool is at its bound, or the disk is full: the batch is not durable."""


@dataclass(frozen=True, slots=True)
class SpooledBatch:
    id: int
    body: bytes
    lines: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    body: bytes
    lines: int
    reason: str
    dead_at: float


class Spool:
    """A bounded FIFO of line-protocol batches in one SQLite file (mode 0600).

    Thread-safe; a new ``Spool`` on the same file sees the backlog left before
    a restart.
    """

    def __init__(self, path: Path, max_bytes: int, warn_pct: float) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.warn_pct = warn_pct
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Create the file 0600 before SQLite does (it would use the umask);
            # SQLite gives the -wal and -shm files the database file's mode.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            os.chmod(path, 0o600)
        except OSError as exc:
            raise EnvmonError(f"spool {path}: cannot create: {exc.strerror}") from None
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(lines), 0), COALESCE(SUM(LENGTH(body)), 0)"
                " FROM batch"
            ).fetchone()
        except sqlite3.Error as exc:
            raise EnvmonError(f"spool {path}: cannot open: {exc}") from None
        self._depth_batches, self._depth_lines, self._depth_bytes = (int(v) for v in row)
        self._warned_step = -1.0
        if self._depth_lines:
            log.warning(
                "spool %s: %d lines in %d batches waiting from before (%.1f%% full)",
                path,
                self._depth_lines,
                self._depth_batches,
                self.fill_pct,
            )

    @property
    def depth_lines(self) -> int:
        return self._depth_lines

    @property
    def depth_bytes(self) -> int:
        """Stored (compressed) bytes of the waiting batches: what the bound counts."""
        return self._depth_bytes

    @property
    def depth_batches(self) -> int:
        return self._depth_batches

    @property
    def fill_pct(self) -> float:
        return 100.0 * self._depth_bytes / self.max_bytes

    def append(self, body: bytes, lines: int) -> None:
        """Store one batch durably (on disk when this returns); ``SpoolFull`` if it cannot."""
        packed = zlib.compress(body, 1)
        with self._lock:
            if self._depth_bytes + len(packed) > self.max_bytes:
                log.error(
                    "spool %s is full (%.1f%% of %d bytes): cannot take %d lines",
                    self.path,
                    self.fill_pct,
                    self.max_bytes,
                    lines,
                )
                raise SpoolFull(f"spool {self.path} is full ({self.max_bytes} bytes)")
            self._execute(
                "INSERT INTO batch (body, lines, spooled_at) VALUES (?, ?, ?)",
                (packed, lines, time.time()),
            )
            self._depth_batches += 1
            self._depth_lines += lines
            self._depth_bytes += len(packed)
            self._warn_on_fill()

    def oldest(self, max_batches: int = 1, max_lines: int | None = None) -> list[SpooledBatch]:
        """The oldest batches, FIFO: up to ``max_batches``, and (if given) no more
        than ``max_lines`` lines in all, but always at least one batch if any."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, body, lines FROM batch ORDER BY id LIMIT ?", (max_batches,)
            ).fetchall()
        out: list[SpooledBatch] = []
        total = 0
        for batch_id, packed, lines in rows:
            if out and max_lines is not None and total + lines > max_lines:
                break
            out.append(SpooledBatch(batch_id, zlib.decompress(packed), lines))
            total += lines
        return out

    def remove(self, ids: Sequence[int]) -> None:
        """Forget batches that are now in InfluxDB."""
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        with self._lock:
            self._execute("BEGIN IMMEDIATE")
            try:
                batches, lines, size = self._db.execute(
                    "SELECT COUNT(*), COALESCE(SUM(lines), 0), COALESCE(SUM(LENGTH(body)), 0)"
                    f" FROM batch WHERE id IN ({marks})",
                    tuple(ids),
                ).fetchone()
                self._execute(f"DELETE FROM batch WHERE id IN ({marks})", tuple(ids))
                self._execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
            self._depth_batches -= int(batches)
            self._depth_lines -= int(lines)
            self._depth_bytes -= int(size)
            if self.fill_pct < self.warn_pct:
                self._warned_step = -1.0
            if self._depth_batches == 0:
                self._compact()

    def dead_letter(self, body: bytes, lines: int, reason: str) -> None:
        """Keep a batch InfluxDB refused, with the reason; ``SpoolFull`` only if the disk is."""
        with self._lock:
            self._execute(
                "INSERT INTO dead_letter (body, lines, reason, dead_at) VALUES (?, ?, ?, ?)",
                (zlib.compress(body, 1), lines, reason, time.time()),
            )

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The oldest dead-lettered batches, for an operator to inspect or replay."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, body, lines, reason, dead_at FROM dead_letter ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()
        return [DeadLetter(i, zlib.decompress(b), n, r, t) for i, b, n, r, t in rows]

    def dead_letter_lines(self) -> int:
        with self._lock:
            (n,) = self._db.execute("SELECT COALESCE(SUM(lines), 0) FROM dead_letter").fetchone()
        return int(n)

    def close(self) -> None:
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                log.warning("spool %s: checkpoint at close failed: %s", self.path, exc)
            self._db.close()

    def _execute(self, sql: str, params: Sequence[object] = ()) -> None:
        try:
            self._db.execute(sql, params)
        except sqlite3.OperationalError as exc:
            if "full" in str(exc):  # "database or disk is full"
                log.error("spool %s: disk is full: %s", self.path, exc)
                self._rollback()
                raise SpoolFull(f"spool {self.path}: {exc}") from exc
            raise

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def _compact(self) -> None:
        # Empty again: give the pages back to the file system.
        try:
            # executescript steps the pragma to completion (execute frees one page).
            self._db.executescript("PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);")
        except sqlite3.Error as exc:
            log.warning("spool %s: compaction failed: %s", self.path, exc)

    def _warn_on_fill(self) -> None:
        fill = self.fill_pct
        if fill < self.warn_pct:
            return
        step = self.warn_pct + _WARN_STEP_PCT * ((fill - self.warn_pct) // _WARN_STEP_PCT)
        if step > self._warned_step:
            self._warned_step = step
            log.warning(
                "spool %s is %.1f%% full (%d lines waiting for InfluxDB); "
                "at 100%% envmon stops acknowledging readings",
                self.path,
                fill,
                self._depth_lines,
            )
