"""The alarm journal: SQLite (WAL, synchronous=FULL), file mode 0600.

Every commit is on disk when it returns, except the alarm worker's record of
what readings raised (``record_events(synced=False)``): committed, which a
crash of envmon keeps, and put on disk by ``sync`` before those readings are
acknowledged to the broker, so that telling people does not wait for a disk
busy with InfluxDB's writes. A machine that loses power before the sync loses
those commits, and the broker redelivers the readings that raised them.

The record of truth for alarms, excursions, acknowledgements, room-state
changes and config loads. Every write appends to the hash-chained audit
trail (``envmon.journal.audit``) and, in the same transaction, applies that
entry's derived-table writes; ``verify`` replays the trail and checks all of
it. Used by the service and, at the same time, by CLI processes: writers take
SQLite's write lock before reading the chain head (``BEGIN IMMEDIATE``), so
two processes never fork the chain. Thread-safe within a process.

Users and signatures: ``journal.people`` (``people.py``). How a signed act
reaches the service: the signer queues a request with its signature
(``journal.requests``, ``requests.py``); the service polls
``requests.pending()``, applies each, records the events and
``requests.finish``; the signer waits on ``requests.outcome``. Configuration
loads: ``journal.configs`` (``configs.py``); the batch registry:
``journal.batches`` (``batches.py``); calibration records and reminders sent:
``journal.calibration`` (``calibration.py``).

With a journal ``key`` every writer chains with HMAC-SHA256 (``chain.py``):
a writable open keys an unkeyed journal, and refuses a keyed one without
its key.
"""

from __future__ import annotations

import json
import os
import pwd
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager as ContextManager
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envmon.alarms.events import Alarm, AlarmEvent, Excursion, Transient, Transition
from envmon.journal._commits import Commits
from envmon.journal._db import Appender, JournalError, connect, entry_from_row
from envmon.journal.audit import (
    DERIVED_TABLES,
    GENESIS_HASH,
    KIND_ALARM_PREFIX,
    KIND_ROOM_STATE,
    AuditEntry,
    VerifyResult,
    alarm_from_record,
    event_data,
    excursion_from_record,
    room_state_data,
    room_state_from_row,
    verify_journal,
)
from envmon.journal.audit_transients import (
    KIND_TRANSIENT,
    transient_from_record,
    transient_id,
    transient_to_record,
)
from envmon.journal.batches import Batches
from envmon.journal.calibration import CalibrationLog
from envmon.journal.configs import Configs
from envmon.journal.people import People
from envmon.journal.requests import RequestQueue, SignedRequest
from envmon.readings import RoomStateChange

__all__ = [
    "AuditEntry",
    "ExcursionRecord",
    "Journal",
    "JournalError",
    "SignedRequest",
    "VerifyResult",
]


@dataclass(frozen=True, slots=True)
class ExcursionRecord:
    """An excursion with the acknowledgement of its alarm (for reports)."""

    excursion: Excursion
    acked_by: str | None
    acked_ns: int | None
    comment: str | None


def current_os_user() -> str:
    """The operating-system user of this process, recorded beside named users."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


class Journal:
    """The journal file at ``path``; created (mode 0600) unless ``readonly``.

    ``key``: the journal key (``[storage] journal_key_file``); needed to write
    to a keyed journal and to verify one.
    """

    def __init__(
        self,
        path: Path,
        readonly: bool = False,
        *,
        clock_ns: Callable[[], int] = time.time_ns,
        os_user: str | None = None,
        key: bytes | None = None,
    ) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._clock_ns = clock_ns
        self._os_user = os_user or current_os_user()
        self._key = key
        self._lock = threading.Lock()
        try:
            self._conn = connect(
                self.path, readonly, ts_ns=clock_ns(), os_user=self._os_user, key=key
            )
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: cannot open the journal: {exc}") from None
        self._commits = Commits(self.path, self._conn, self._lock)
        self.people = People(self)
        self.requests = RequestQueue(self)
        self.configs = Configs(self)
        self.batches = Batches(self)
        self.calibration = CalibrationLog(self)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing -------------------------------------------------------------

    def _transaction(self, what: str, *, synced: bool = True) -> ContextManager[sqlite3.Connection]:
        """One write transaction; see ``Commits.transaction``."""
        if self.readonly:
            raise JournalError(f"{self.path}: journal opened read-only")
        return self._commits.transaction(what, synced=synced)

    @property
    def needs_sync(self) -> bool:
        """Whether a commit is not known to be on disk yet."""
        return self._commits.needs_sync

    def sync(self) -> None:
        """Put every commit made before this call on disk (``Commits.sync``)."""
        self._commits.sync()

    @contextmanager
    def _appending(self, *, synced: bool = True) -> Iterator[Appender]:
        """A transaction that appends to the audit chain."""
        with self._transaction("the journal", synced=synced) as conn:
            appender = Appender(conn, self._clock_ns(), self._os_user, self._key)
            yield appender
            appender.save_head()

    def record_events(
        self,
        events: Sequence[AlarmEvent],
        checkpoint: Mapping[str, str] | None = None,
        *,
        synced: bool = True,
    ) -> None:
        """Every event, in order, and the engine checkpoint behind them, in one transaction.

        Writing both together keeps what the journal says happened and what the
        engine resumes from after a crash in step. ``synced=False`` here and in the
        methods below: see ``envmon.journal._commits``; the caller must ``sync``
        before it relies on it.
        """
        if not events:
            if checkpoint:
                self.save_checkpoint(checkpoint, synced=synced)
            return
        with self._appending(synced=synced) as append:
            for event in events:
                append(
                    KIND_ALARM_PREFIX + event.transition.value, event.alarm.id, event_data(event)
                )
            if checkpoint:
                _upsert_checkpoint(append.conn, checkpoint)

    def save_checkpoint(self, checkpoint: Mapping[str, str], *, synced: bool = True) -> None:
        """The alarm engine's changed channel states (outside the audit chain)."""
        if not checkpoint:
            return
        with self._transaction("the checkpoint", synced=synced) as conn:
            _upsert_checkpoint(conn, checkpoint)

    def load_checkpoint(self) -> dict[str, str]:
        with self._lock:
            rows = self._conn.execute("SELECT channel, state FROM engine_checkpoint").fetchall()
        return {row[0]: row[1] for row in rows}

    def record_room_state(self, change: RoomStateChange, *, synced: bool = True) -> None:
        with self._appending(synced=synced) as append:
            append(KIND_ROOM_STATE, change.room, room_state_data(change))

    def record_transients(self, transients: Sequence[Transient], *, synced: bool = True) -> int:
        """Each transient not journaled yet (a redelivery judges a span again), in one
        transaction; returns how many were new."""
        if not transients:
            return 0
        added = 0
        with self._appending(synced=synced) as append:
            for t in transients:
                ident = transient_id(t)
                seen = append.conn.execute("SELECT 1 FROM transients WHERE id = ?", (ident,))
                if seen.fetchone() is None:
                    append(KIND_TRANSIENT, ident, {"transient": transient_to_record(t)})
                    added += 1
        return added

    # --- reading -------------------------------------------------------------

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise JournalError(f"{self.path}: cannot read the journal: {exc}") from None

    def open_alarms(self) -> list[Alarm]:
        """Alarms not yet closed (active, or latched awaiting ack), oldest first."""
        return self.alarms(include_closed=False)

    def alarms(self, include_closed: bool = False) -> list[Alarm]:
        where = "" if include_closed else "WHERE state != 'closed'"
        rows = self._query(f"SELECT record FROM alarms {where} ORDER BY raised_ns, id")
        return [alarm_from_record(json.loads(r["record"])) for r in rows]

    def get_alarm(self, alarm_id: str) -> Alarm | None:
        rows = self._query("SELECT record FROM alarms WHERE id = ?", (alarm_id,))
        return alarm_from_record(json.loads(rows[0]["record"])) if rows else None

    def open_excursions(self) -> list[Excursion]:
        """Excursions still in progress (for restoring the engine after a restart)."""
        rows = self._query("SELECT record FROM excursions WHERE end_ns IS NULL ORDER BY start_ns")
        return [excursion_from_record(json.loads(r["record"])) for r in rows]

    def escalated_alarm_ids(self) -> set[str]:
        """Alarms already escalated, so a restart does not escalate them again."""
        kind = KIND_ALARM_PREFIX + Transition.ESCALATED.value
        rows = self._query("SELECT DISTINCT subject FROM audit WHERE kind = ?", (kind,))
        return {r["subject"] for r in rows}

    def excursions(
        self, from_ns: int, to_ns: int, rooms: Sequence[str] | None = None
    ) -> list[ExcursionRecord]:
        """Excursions overlapping [from_ns, to_ns), with their alarm's ack, by start."""
        sql = (
            "SELECT e.record AS excursion, a.record AS alarm FROM excursions e "
            "LEFT JOIN alarms a ON a.id = e.alarm_id "
            "WHERE e.start_ns < ? AND (e.end_ns IS NULL OR e.end_ns >= ?)"
        )
        params: list[Any] = [to_ns, from_ns]
        if rooms is not None:
            sql += f" AND e.room IN ({','.join('?' * len(rooms))})"
            params.extend(rooms)
        out = []
        for row in self._query(sql + " ORDER BY e.start_ns, e.id", params):
            alarm = alarm_from_record(json.loads(row["alarm"])) if row["alarm"] else None
            out.append(
                ExcursionRecord(
                    excursion=excursion_from_record(json.loads(row["excursion"])),
                    acked_by=alarm.acked_by if alarm else None,
                    acked_ns=alarm.acked_ns if alarm else None,
                    comment=alarm.comment if alarm else None,
                )
            )
        return out

    def transients(
        self, from_ns: int, to_ns: int, rooms: Sequence[str] | None = None
    ) -> list[Transient]:
        """Transients that began in [from_ns, to_ns), of ``rooms`` (all when None), by start."""
        sql = "SELECT record FROM transients WHERE start_ns >= ? AND start_ns < ?"
        params: list[Any] = [from_ns, to_ns]
        if rooms is not None:
            sql += f" AND room IN ({','.join('?' * len(rooms))})"
            params.extend(rooms)
        rows = self._query(sql + " ORDER BY start_ns, id", params)
        return [transient_from_record(json.loads(r["record"])) for r in rows]

    def room_state_changes(
        self, from_ns: int, to_ns: int, rooms: Sequence[str] | None = None
    ) -> list[RoomStateChange]:
        """Changes in [from_ns, to_ns) plus, per room, the last one before
        ``from_ns`` (the state in force at the start); ordered by time."""
        room_filter, params = "", []
        if rooms is not None:
            room_filter = f" AND room IN ({','.join('?' * len(rooms))})"
            params = list(rooms)
        sql = (
            "SELECT seq, site, room, state, source, ts_ns FROM ("
            "  SELECT *, ROW_NUMBER() OVER (PARTITION BY room ORDER BY ts_ns DESC, seq DESC) AS n"
            f"  FROM room_states WHERE ts_ns < ?{room_filter}"
            ") WHERE n = 1 "
            "UNION ALL "
            "SELECT seq, site, room, state, source, ts_ns FROM room_states "
            f"WHERE ts_ns >= ? AND ts_ns < ?{room_filter} "
            "ORDER BY ts_ns, seq"
        )
        rows = self._query(sql, [from_ns, *params, from_ns, to_ns, *params])
        return [room_state_from_row(dict(r)) for r in rows]

    def audit_entries(self, limit: int | None = None) -> list[AuditEntry]:
        """The newest ``limit`` entries (all when None), oldest first."""
        if limit is None:
            rows = self._query("SELECT * FROM audit ORDER BY seq")
        else:
            rows = self._query(
                "SELECT * FROM (SELECT * FROM audit ORDER BY seq DESC LIMIT ?) ORDER BY seq",
                (limit,),
            )
        return [entry_from_row(r) for r in rows]

    def head(self) -> tuple[int, str]:
        """The recorded chain head: (last seq, its hash); (0, genesis) when empty."""
        rows = self._query("SELECT seq, hash FROM chain_head WHERE id = 1")
        return (int(rows[0]["seq"]), str(rows[0]["hash"])) if rows else (0, GENESIS_HASH)

    def hashes(self, seqs: Sequence[int]) -> dict[int, str]:
        """The stored hash of each of these entries that exists."""
        out: dict[int, str] = {}
        for start in range(0, len(seqs), 500):
            chunk = list(seqs[start : start + 500])
            rows = self._query(
                f"SELECT seq, hash FROM audit WHERE seq IN ({','.join('?' * len(chunk))})", chunk
            )
            out.update({int(r["seq"]): str(r["hash"]) for r in rows})
        return out

    def verify(self) -> VerifyResult:
        """Check the chain (with the journal key, if given) and every derived row,
        from one consistent snapshot."""
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN")
                try:
                    entries = [
                        entry_from_row(r) for r in conn.execute("SELECT * FROM audit ORDER BY seq")
                    ]
                    head_row = conn.execute("SELECT seq, hash FROM chain_head").fetchone()
                    tables = {
                        name: [dict(r) for r in conn.execute(f"SELECT * FROM {name}")]
                        for name in DERIVED_TABLES
                    }
                    credentials = {
                        str(r[0]): str(r[1])
                        for r in conn.execute("SELECT name, password_hash FROM credentials")
                    }
                finally:
                    conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise JournalError(f"{self.path}: cannot read the journal: {exc}") from None
        head = None if head_row is None else (int(head_row["seq"]), str(head_row["hash"]))
        return verify_journal(entries, head, tables, credentials, key=self._key)


def _upsert_checkpoint(conn: sqlite3.Connection, checkpoint: Mapping[str, str]) -> None:
    conn.executemany(
        "INSERT INTO engine_checkpoint (channel, state) VALUES (?, ?) "
        "ON CONFLICT (channel) DO UPDATE SET state = excluded.state",
        checkpoint.items(),
    )
