"""The journal's write transactions, and which of their commits are on disk.

Every transaction is on disk when it commits (SQLite's ``synchronous=FULL``)
unless it asks not to be (``synced=False``): then it is committed as far as
the operating system, which a crash of envmon keeps but a machine losing
power may not, until ``sync`` or a later synced transaction (which syncs the
whole write-ahead log, earlier commits with it).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from envmon.journal._db import JournalError


class Commits:
    """Write transactions on the journal's one connection, under its lock."""

    def __init__(self, path: Path, conn: sqlite3.Connection, lock: threading.Lock) -> None:
        self._path = path
        self._conn = conn
        self._lock = lock
        # Commits that changed something, and how many of them are known on disk.
        self._made = 0
        self._on_disk = 0

    @contextmanager
    def transaction(self, what: str, *, synced: bool) -> Iterator[sqlite3.Connection]:
        """One write transaction holding SQLite's write lock from the start; SQLite
        errors become ``JournalError`` naming the file and ``what`` was written."""
        with self._lock:
            conn = self._conn
            changes = conn.total_changes
            try:
                if not synced:
                    conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                self._restore(synced)
                raise JournalError(f"{self._path}: cannot write {what}: {exc}") from None
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise JournalError(f"{self._path}: cannot write {what}: {exc}") from None
                raise
            finally:
                self._restore(synced)
            if conn.total_changes != changes:
                self._made += 1
                if synced:
                    self._on_disk = self._made

    def _restore(self, synced: bool) -> None:
        if not synced:
            self._conn.execute("PRAGMA synchronous=FULL")

    @property
    def needs_sync(self) -> bool:
        return self._on_disk < self._made

    def sync(self) -> None:
        """Put every commit made before this call on disk. The lock is not held
        while the disk works: other threads commit meanwhile, for the next sync."""
        with self._lock:
            upto = self._made
            if self._on_disk >= upto:
                return
        wal = f"{self._path}-wal"
        try:
            fd = os.open(wal, os.O_RDONLY)
            try:
                os.fdatasync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise JournalError(f"{wal}: cannot sync the journal's log: {exc}") from None
        with self._lock:
            self._on_disk = max(self._on_disk, upto)
