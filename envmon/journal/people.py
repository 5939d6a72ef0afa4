"""Users, their credentials and their signatures in the journal.

Every change of a user is an audit entry carrying the user's whole record
(``audit_signing``); the password hash goes to ``credentials`` beside it.
Signing happens inside one write transaction (``SigningTransaction``), so
that the lockout count read, the password checked and the signature or
refusal written belong together: two attempts never both pass the last try
before a lockout. The rules themselves are ``envmon.signing``'s.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from envmon.errors import EnvmonError
from envmon.journal._db import Appender, JournalError, entry_from_row
from envmon.journal.audit_signing import (
    KIND_SIGN_IN,
    KIND_SIGNATURE,
    KIND_SIGNATURE_REFUSED,
    KIND_USER_ADDED,
    KIND_USER_DISABLED,
    KIND_USER_PASSWORD,
    check_user_row,
    user_data,
)
from envmon.journal.audit_types import GENESIS_HASH, RowLike, canonical_json
from envmon.signing.passwords import credential_digest
from envmon.signing.signature import Signature

if TYPE_CHECKING:
    from envmon.journal.journal import Journal

ALARM_ACTS = frozenset({"ack", "shelve", "unshelve"})
"""Acts whose signature covers the alarm record as the journal holds it."""


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user as the journal knows them (never the password hash)."""

    name: str
    full_name: str
    role: str
    disabled: bool
    disabled_reason: str
    created_ns: int
    password_set_ns: int

    @classmethod
    def from_row(cls, row: RowLike) -> UserRecord:
        return cls(
            name=row["name"],
            full_name=row["full_name"],
            role=row["role"],
            disabled=bool(row["disabled"]),
            disabled_reason=row["disabled_reason"],
            created_ns=row["created_ns"],
            password_set_ns=row["password_set_ns"],
        )


class People:
    """The users of a journal: ``journal.people``."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    def add(self, name: str, full_name: str, role: str, password_hash: str) -> UserRecord:
        """A new user; raises ``EnvmonError`` if the name was ever used (names are
        never reused or reassigned: Part 11 §11.100(a))."""
        with self._journal._appending() as append:
            if _user_row(append.conn, name) is not None:
                raise EnvmonError(
                    f"user {name} exists already (user names are never reused, "
                    "not even after `envmon user disable`)"
                )
            data = user_data(
                name=name,
                full_name=full_name,
                role=role,
                disabled=False,
                disabled_reason="",
                created_ns=append.ts_ns,
                password_set_ns=append.ts_ns,
                credential_sha256=credential_digest(password_hash),
            )
            append(KIND_USER_ADDED, name, data)
            _store_credential(append.conn, name, password_hash)
        return self._get_required(name)

    def set_password(self, name: str, password_hash: str) -> UserRecord:
        """A new password (also ends a lockout: failures before it no longer count)."""
        with self._journal._appending() as append:
            row = _required_row(append.conn, name)
            data = _data_of(row) | {
                "password_set_ns": append.ts_ns,
                "credential_sha256": credential_digest(password_hash),
            }
            append(KIND_USER_PASSWORD, name, data)
            _store_credential(append.conn, name, password_hash)
        return self._get_required(name)

    def disable(self, name: str, reason: str) -> UserRecord:
        with self._journal._appending() as append:
            row = _required_row(append.conn, name)
            if row["disabled"]:
                raise EnvmonError(f"user {name} is disabled already ({row['disabled_reason']})")
            append(
                KIND_USER_DISABLED,
                name,
                _data_of(row) | {"disabled": True, "disabled_reason": reason},
            )
        return self._get_required(name)

    def get(self, name: str) -> UserRecord | None:
        rows = self._journal._query("SELECT * FROM users WHERE name = ?", (name,))
        return UserRecord.from_row(rows[0]) if rows else None

    def all(self) -> list[UserRecord]:
        return [
            UserRecord.from_row(r)
            for r in self._journal._query("SELECT * FROM users ORDER BY name")
        ]

    def password_hash(self, name: str) -> str | None:
        rows = self._journal._query("SELECT password_hash FROM credentials WHERE name = ?", (name,))
        return str(rows[0][0]) if rows else None

    def locking_failures(self, name: str) -> list[int]:
        """When ``name``'s failed attempts that count toward lockout happened,
        since its last signature or password change (``signing.rules.locked_until``)."""
        with self._journal._lock:
            return _locking_failures(self._journal._conn, name)

    @contextmanager
    def signing(self) -> Iterator[SigningTransaction]:
        """One write transaction for one signature attempt."""
        with self._journal._appending() as append:
            yield SigningTransaction(append)

    def _get_required(self, name: str) -> UserRecord:
        user = self.get(name)
        if user is None:  # pragma: no cover - written in the same call
            raise JournalError(f"{self._journal.path}: user {name} vanished")
        return user


class SigningTransaction:
    """What the signer reads and writes while it holds the journal's write lock."""

    def __init__(self, append: Appender) -> None:
        self._append = append
        self._conn = append.conn

    def user(self, name: str) -> UserRecord | None:
        row = _user_row(self._conn, name)
        return UserRecord.from_row(row) if row is not None else None

    def password_hash(self, name: str) -> str | None:
        row = self._conn.execute(
            "SELECT password_hash FROM credentials WHERE name = ?", (name,)
        ).fetchone()
        return str(row[0]) if row else None

    def user_intact(self, name: str) -> bool:
        """Whether the user's row and credential are what the trail says: the row
        equals what its last entry left, that entry chains to the one before, and
        the stored hash is the one the entry names. (``envmon audit --verify``
        checks everything; this is the cheap check made at every signature.)"""
        row = _user_row(self._conn, name)
        stored = self.password_hash(name)
        if row is None or stored is None:
            return False
        entries = self._conn.execute(
            "SELECT * FROM audit WHERE seq IN (?, ?) ORDER BY seq",
            (row["audit_seq"] - 1, row["audit_seq"]),
        ).fetchall()
        entry = entry_from_row(entries[-1]) if entries else None
        if entry is None or entry.seq != row["audit_seq"] or not check_user_row(row, entry):
            return False
        prev_hash = entries[0]["hash"] if len(entries) == 2 else GENESIS_HASH
        try:
            if self._append.hash_of(entry.seq, prev_hash, entry.content()) != entry.hash:
                return False
        except JournalError:
            return False
        return credential_digest(stored) == row["credential_sha256"]

    def locking_failures(self, name: str) -> list[int]:
        return _locking_failures(self._conn, name)

    def record_sha256(self, act: str, subject: str, params: Mapping[str, Any]) -> str:
        """SHA-256 of the record a signature of ``act`` on ``subject`` signs: the
        alarm record as the journal holds it, for acts on alarms; else the
        act itself. Raises ``EnvmonError`` for an alarm the journal lacks."""
        if act in ALARM_ACTS:
            row = self._conn.execute(
                "SELECT record FROM alarms WHERE id = ?", (subject,)
            ).fetchone()
            if row is None:
                raise EnvmonError(f"no alarm {subject!r} in the journal (see `envmon alarms`)")
            text = str(row[0])
        else:
            text = canonical_json({"act": act, "subject": subject, "params": dict(params)})
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def sign(self, signature: Signature, act: str, subject: str, record_sha256: str) -> int:
        """Record a signature; returns its audit seq."""
        data = {
            "user": signature.user,
            "full_name": signature.full_name,
            "role": signature.role,
            "meaning": signature.meaning,
            "comment": signature.comment,
            "signed_ns": signature.signed_ns,
            "client": signature.client,
            "act": act,
            "subject": subject,
            "record_sha256": record_sha256,
        }
        return self._append(KIND_SIGNATURE, subject, data, os_user=signature.os_user).seq

    def refuse(
        self,
        *,
        user: str,
        act: str,
        subject: str,
        reason: str,
        counts: bool,
        attempted_ns: int,
        os_user: str,
        client: str,
    ) -> int:
        """Record a refused attempt under the user name given; returns its seq."""
        data = {
            "user": user,
            "attempted_ns": attempted_ns,
            "client": client,
            "act": act,
            "subject": subject,
            "reason": reason,
            "counts": counts,
        }
        return self._append(KIND_SIGNATURE_REFUSED, user, data, os_user=os_user).seq

    def signed_in(self, user: str, signed_in_ns: int, os_user: str, client: str) -> int:
        """Record that ``user`` opened a session with their password; returns its seq."""
        data = {"user": user, "signed_in_ns": signed_in_ns, "client": client}
        return self._append(KIND_SIGN_IN, user, data, os_user=os_user).seq

    @property
    def append(self) -> Appender:
        """For writing what the signature makes happen (a request) in the same transaction."""
        return self._append


def _user_row(conn: sqlite3.Connection, name: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
    return row


def _required_row(conn: sqlite3.Connection, name: str) -> sqlite3.Row:
    row = _user_row(conn, name)
    if row is None:
        raise EnvmonError(f"no user {name} (see `envmon user list`)")
    return row


def _data_of(row: sqlite3.Row) -> dict[str, Any]:
    user = UserRecord.from_row(row)
    return user_data(**asdict(user), credential_sha256=row["credential_sha256"])


def _store_credential(conn: sqlite3.Connection, name: str, password_hash: str) -> None:
    conn.execute(
        "INSERT INTO credentials (name, password_hash) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash",
        (name, password_hash),
    )


def _locking_failures(conn: sqlite3.Connection, name: str) -> list[int]:
    since = conn.execute(
        'SELECT MAX(t) FROM (SELECT MAX(signed_ns) AS t FROM signatures WHERE "user" = ? '
        "UNION ALL SELECT password_set_ns FROM users WHERE name = ?)",
        (name, name),
    ).fetchone()[0]
    rows = conn.execute(
        'SELECT attempted_ns FROM failed_signatures WHERE "user" = ? AND counts = 1 '
        "AND attempted_ns > ? ORDER BY attempted_ns, seq",
        (name, since if since is not None else -1),
    ).fetchall()
    return [int(r[0]) for r in rows]
