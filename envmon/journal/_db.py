"""The journal's SQLite layer: schema, connections, and appending to the chain.

``journal.py`` holds the public ``Journal``; this module holds what touches
SQL directly, so that each stays small.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any, Final

from envmon.errors import EnvmonError
from envmon.journal.audit import (
    DERIVED_TABLES,
    GENESIS_HASH,
    AuditEntry,
    DerivedWrite,
    derived_writes,
)
from envmon.journal.audit_transients import DDL as TRANSIENTS_DDL
from envmon.journal.chain import KIND_CHAIN_KEYED, UNKEYED, ChainMode, chain_hash, keyed_data
from envmon.journal.chain import key_id as key_id_of

SCHEMA_VERSION: Final = 4
"""1: alarms, excursions, room states, unsigned ack requests. 2: users,
credentials, signatures, refused attempts, signed requests of every act,
sensor service periods. 3: batches. 4: transients (``_migrate.py`` takes an
older journal here)."""
BUSY_TIMEOUT_S: Final = 15.0

SCHEMA: Final = (
    """
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
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    full_name TEXT NOT NULL,
    role TEXT NOT NULL,
    disabled INTEGER NOT NULL,
    disabled_reason TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    password_set_ns INTEGER NOT NULL,
    credential_sha256 TEXT NOT NULL,
    audit_seq INTEGER NOT NULL
);
-- Password hashes (argon2id), never in the audit trail: each user's entry
-- holds the SHA-256 of its hash, and verification checks this table by it.
CREATE TABLE IF NOT EXISTS credentials (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS signatures (
    seq INTEGER PRIMARY KEY,
    "user" TEXT NOT NULL,
    full_name TEXT NOT NULL,
    role TEXT NOT NULL,
    meaning TEXT NOT NULL,
    comment TEXT NOT NULL,
    signed_ns INTEGER NOT NULL,
    os_user TEXT NOT NULL,
    client TEXT NOT NULL,
    act TEXT NOT NULL,
    subject TEXT NOT NULL,
    record_sha256 TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS signatures_user ON signatures ("user", signed_ns);
CREATE TABLE IF NOT EXISTS failed_signatures (
    seq INTEGER PRIMARY KEY,
    "user" TEXT NOT NULL,
    attempted_ns INTEGER NOT NULL,
    os_user TEXT NOT NULL,
    client TEXT NOT NULL,
    act TEXT NOT NULL,
    subject TEXT NOT NULL,
    reason TEXT NOT NULL,
    counts INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS failed_signatures_user ON failed_signatures ("user", attempted_ns);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    act TEXT NOT NULL,
    subject TEXT NOT NULL,
    params TEXT NOT NULL,
    signature_seq INTEGER,
    os_user TEXT NOT NULL,
    requested_ns INTEGER NOT NULL,
    outcome TEXT,
    request_seq INTEGER NOT NULL,
    outcome_seq INTEGER
);
CREATE INDEX IF NOT EXISTS requests_pending ON requests (outcome, id);
CREATE TABLE IF NOT EXISTS sensor_service (
    seq INTEGER PRIMARY KEY,
    sensor TEXT NOT NULL,
    from_ns INTEGER NOT NULL,
    until_ns INTEGER,
    signature_seq INTEGER NOT NULL,
    request_id INTEGER NOT NULL,
    returned_ns INTEGER,
    return_signature_seq INTEGER
);
CREATE INDEX IF NOT EXISTS sensor_service_sensor ON sensor_service (sensor, from_ns);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    product TEXT NOT NULL,
    rooms TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER,
    started_by TEXT NOT NULL,
    ended_by TEXT,
    start_seq INTEGER NOT NULL,
    end_seq INTEGER
);
CREATE INDEX IF NOT EXISTS batches_start ON batches (start_ns);
"""
    + TRANSIENTS_DDL
)


class JournalError(EnvmonError):
    """The journal cannot be opened or written; the message names the file."""


def connect(
    path: Path, readonly: bool, *, ts_ns: int = 0, os_user: str = "", key: bytes | None = None
) -> sqlite3.Connection:
    """Open the journal; a writable open creates the file (0600) and the schema,
    migrates an older schema, and with ``key`` keys an unkeyed chain (each
    journaled at ``ts_ns`` under ``os_user``). A writable open of a keyed
    journal without its key is refused: nothing could be appended."""
    if readonly:
        if not path.exists():
            raise JournalError(f"{path}: no journal here (the service creates it when it starts)")
        uri = path.resolve().as_uri() + "?mode=ro"
        conn = sqlite3.connect(
            uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if 0 < version < SCHEMA_VERSION:
            conn.close()
            raise JournalError(
                f"{path}: journal schema {version} predates this envmon's ({SCHEMA_VERSION}); "
                "the service migrates it when it next starts (or any writing command)"
            )
        return conn
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Create the file ourselves so it is never readable by others, not even
    # briefly (an existing file is left as it is). SQLite gives its -wal and
    # -shm files the database file's mode.
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        # The service syncs the write-ahead log itself (journal/_commits.py).
        conn.close()
        raise JournalError(
            f"{path}: SQLite cannot keep a write-ahead log here (journal mode {mode!r}); "
            "put the state directory on a local file system"
        )
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"{path}: journal schema {version} is newer than this envmon "
                f"understands ({SCHEMA_VERSION})"
            )
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        if 0 < version < SCHEMA_VERSION:
            from envmon.journal._migrate import migrate

            migrate(conn, version, Appender(conn, ts_ns, os_user, key))
        _check_key(path, conn, key, ts_ns, os_user)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        conn.close()
        raise
    return conn


def chain_mode(conn: sqlite3.Connection) -> ChainMode:
    """Whether the journal is keyed, from its first ``chain_keyed`` entry."""
    row = conn.execute(
        "SELECT seq, data FROM audit WHERE kind = ? ORDER BY seq LIMIT 1", (KIND_CHAIN_KEYED,)
    ).fetchone()
    if row is None:
        return UNKEYED
    try:
        named = json.loads(row[1]).get("key_id")
    except (TypeError, ValueError, AttributeError):
        named = None
    return ChainMode(keyed_from=int(row[0]), key_id=str(named))


def _check_key(
    path: Path, conn: sqlite3.Connection, key: bytes | None, ts_ns: int, os_user: str
) -> None:
    """Key an unkeyed chain with ``key``; refuse a keyed one without it or with another key."""
    mode = chain_mode(conn)
    if mode.keyed_from is None:
        if key is not None:
            append = Appender(conn, ts_ns, os_user, key)
            append(KIND_CHAIN_KEYED, "journal", keyed_data(key))
            append.save_head()
        return
    if key is None:
        raise JournalError(
            f"{path}: the journal is keyed (HMAC-SHA256 from seq {mode.keyed_from}, key id "
            f"{mode.key_id}) and this process has no journal key: set storage.journal_key_file "
            "(or the systemd credential storage_journal_key)"
        )
    if key_id_of(key) != mode.key_id:
        raise JournalError(
            f"{path}: the journal is keyed with key id {mode.key_id}, the configured journal "
            f"key has id {key_id_of(key)}: wrong storage.journal_key_file"
        )


class Appender:
    """Appends entries to the chain inside an open write transaction.

    The journal's chain mode is read inside the transaction, so an entry is
    never chained unkeyed after another process keyed the journal.
    """

    def __init__(
        self, conn: sqlite3.Connection, ts_ns: int, os_user: str, key: bytes | None = None
    ) -> None:
        self.conn = conn
        self.ts_ns = ts_ns
        self.os_user = os_user
        self.key = key
        head = conn.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
        # The recorded head, not the last row: appending after a deleted last
        # row must leave the gap visible, not paper over it.
        self.seq, self.hash = (int(head[0]), str(head[1])) if head else (0, GENESIS_HASH)
        self.mode = chain_mode(conn)

    def hash_of(self, seq: int, prev_hash: str, content: dict[str, Any]) -> str:
        """The hash entry ``seq`` gets (or must have) in this journal."""
        expected = chain_hash(seq, prev_hash, content, self.mode, self.key)
        if expected is None:
            raise JournalError(
                f"the journal is keyed from seq {self.mode.keyed_from} and this process has "
                "no journal key (storage.journal_key_file)"
            )
        return expected

    def __call__(
        self, kind: str, subject: str, data: dict[str, Any], os_user: str | None = None
    ) -> AuditEntry:
        seq = self.seq + 1
        unhashed = AuditEntry(seq, self.ts_ns, kind, subject, data, os_user or self.os_user, "")
        # Hash what a reader will see: the data after a JSON round trip.
        data = json.loads(json.dumps(data))
        content = {**unhashed.content(), "data": data}
        if kind == KIND_CHAIN_KEYED and self.mode.keyed_from is None and self.key is not None:
            self.mode = ChainMode(keyed_from=seq, key_id=key_id_of(self.key))
        entry = AuditEntry(
            seq,
            self.ts_ns,
            kind,
            subject,
            data,
            unhashed.os_user,
            self.hash_of(seq, self.hash, content),
        )
        self.conn.execute(
            "INSERT INTO audit (seq, ts_ns, kind, subject, data, os_user, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (seq, entry.ts_ns, kind, subject, json.dumps(data), entry.os_user, entry.hash),
        )
        for write in derived_writes(entry):
            self.apply(write)
        self.seq, self.hash = seq, entry.hash
        return entry

    def apply(self, write: DerivedWrite) -> None:
        """Apply one derived write (the fold of an entry) to its table."""
        key_col = DERIVED_TABLES[write.table][0]
        cols = list(write.columns)
        quoted = ", ".join(f'"{c}"' for c in cols)
        marks = ", ".join("?" * len(cols))
        values = [write.columns[c] for c in cols]
        if write.mode == "update":
            sets = ", ".join(f'"{c}" = ?' for c in cols)
            cur = self.conn.execute(
                f'UPDATE {write.table} SET {sets} WHERE "{key_col}" = ?', [*values, write.key]
            )
            if cur.rowcount != 1:
                raise JournalError(f"{write.table} {key_col}={write.key}: no such row to update")
        elif write.mode == "insert":
            self.conn.execute(f"INSERT INTO {write.table} ({quoted}) VALUES ({marks})", values)
        else:
            sets = ", ".join(f'"{c}" = excluded."{c}"' for c in cols if c != key_col)
            self.conn.execute(
                f"INSERT INTO {write.table} ({quoted}) VALUES ({marks}) "
                f'ON CONFLICT ("{key_col}") DO UPDATE SET {sets}',
                values,
            )

    def save_head(self) -> None:
        self.conn.execute(
            "INSERT INTO chain_head (id, seq, hash) VALUES (1, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            (self.seq, self.hash),
        )


def entry_from_row(row: sqlite3.Row) -> AuditEntry:
    try:
        data = json.loads(row["data"])
    except (TypeError, ValueError):
        data = None
    if not isinstance(data, dict):
        # Only a hand-edited row gets here; keep the text so verify reports it.
        data = {"unparseable": str(row["data"])}
    return AuditEntry(
        seq=row["seq"],
        ts_ns=row["ts_ns"],
        kind=row["kind"],
        subject=row["subject"],
        data=data,
        os_user=row["os_user"],
        hash=row["hash"],
    )
