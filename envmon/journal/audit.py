"""The journal's tamper-evident audit trail, as pure functions.

Every journal entry is one row of an append-only audit table, chained by
SHA-256: ``hash = sha256(prev_hash ‖ canonical JSON of the row's content)``,
the first row chaining to ``GENESIS_HASH``; from a ``chain_keyed`` entry
on, by HMAC-SHA256 under the journal key instead (``chain.py``). The
journal's derived tables (alarms, excursions, room states, users,
signatures, refused attempts, signed requests, sensor service periods,
batches, transients) are a fold of that trail:
``derived_writes`` says which columns each entry sets, the journal applies
exactly those, and ``verify_journal`` replays the whole trail to check that
every derived row agrees with it. So editing or deleting any row, in any
table, is detected and named. Password hashes (``credentials``) are kept out
of the trail; each user entry holds the SHA-256 of its hash, and verification
checks the ``credentials`` table against it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from typing import Any, Final

from envmon.alarms.events import Alarm, AlarmEvent, AlarmState, Excursion, Level, Transition
from envmon.journal import audit_batches, audit_signing, audit_transients
from envmon.journal.audit_signing import KIND_ACK_OUTCOME, KIND_ACK_REQUEST
from envmon.journal.audit_types import (
    GENESIS_HASH,
    AuditEntry,
    DerivedWrite,
    VerifyResult,
    WriteMode,
    canonical_json,
    entry_hash,
)
from envmon.journal.chain import KIND_CHAIN_KEYED, check_chain, missing_rows
from envmon.readings import RoomState, RoomStateChange
from envmon.signing.signature import Signature

__all__ = [
    "DERIVED_TABLES",
    "GENESIS_HASH",
    "KIND_ACK_OUTCOME",
    "KIND_ACK_REQUEST",
    "AuditEntry",
    "DerivedWrite",
    "VerifyResult",
    "WriteMode",
    "canonical_json",
    "entry_hash",
]

KIND_ALARM_PREFIX: Final = "alarm."
KIND_ROOM_STATE: Final = "room_state"
KIND_CONFIG_LOAD: Final = "config_load"
KIND_CALIBRATION_REMINDER: Final = "calibration_reminder"
"""A calibration reminder sent (``journal/calibration.py``); no derived row."""

# Derived tables: name -> (key column, all columns in order). The journal's
# DDL uses the same names; verification compares every column.
DERIVED_TABLES: Final[Mapping[str, tuple[str, tuple[str, ...]]]] = {
    "alarms": ("id", ("id", "state", "room", "level", "raised_ns", "record", "audit_seq")),
    "excursions": (
        "id",
        ("id", "alarm_id", "room", "start_ns", "end_ns", "record", "audit_seq"),
    ),
    "room_states": ("seq", ("seq", "site", "room", "state", "source", "ts_ns")),
    **audit_signing.TABLES,
    **audit_batches.TABLES,
    **audit_transients.TABLES,
}


# --- records: lossless JSON forms of the alarm types ------------------------


def alarm_to_record(alarm: Alarm) -> dict[str, Any]:
    """Nanosecond times kept exact (``Alarm.to_json`` is for people and topics)."""
    record = asdict(alarm)
    record["level"] = alarm.level.value
    record["state"] = alarm.state.value
    record["signatures"] = [sig.to_record() for sig in alarm.signatures]
    if alarm.underlying_state is not None:
        record["underlying_state"] = alarm.underlying_state.value
    return record


def alarm_from_record(record: Mapping[str, Any]) -> Alarm:
    """Also reads records written before signatures and shelving (schema 1)."""
    values = dict(record)
    values["level"] = Level(values["level"])
    values["state"] = AlarmState(values["state"])
    values["signatures"] = tuple(Signature.from_record(s) for s in values.get("signatures", ()))
    if values.get("underlying_state") is not None:
        values["underlying_state"] = AlarmState(values["underlying_state"])
    return Alarm(**values)


def excursion_to_record(excursion: Excursion) -> dict[str, Any]:
    record = asdict(excursion)
    record["level"] = excursion.level.value
    return record


def excursion_from_record(record: Mapping[str, Any]) -> Excursion:
    values = dict(record)
    values["level"] = Level(values["level"])
    return Excursion(**values)


def event_data(event: AlarmEvent) -> dict[str, Any]:
    return {
        "transition": event.transition.value,
        "at_ns": event.at_ns,
        "alarm": alarm_to_record(event.alarm),
        "excursion": None if event.excursion is None else excursion_to_record(event.excursion),
    }


def room_state_data(change: RoomStateChange) -> dict[str, Any]:
    return {
        "ts_ns": change.ts_ns,
        "site": change.site,
        "room": change.room,
        "state": change.state.value,
        "source": change.source,
    }


def room_state_from_row(row: Mapping[str, Any]) -> RoomStateChange:
    return RoomStateChange(
        ts_ns=row["ts_ns"],
        site=row["site"],
        room=row["room"],
        state=RoomState(row["state"]),
        source=row["source"],
    )


# --- the fold: what each entry does to the derived tables --------------------


def derived_writes(entry: AuditEntry) -> list[DerivedWrite]:
    """The derived-table changes an entry makes; raises ``ValueError`` on a
    malformed entry (only a tampered trail has one)."""
    data = entry.data
    if entry.kind == KIND_CALIBRATION_REMINDER:
        return []
    try:
        if entry.kind.startswith(KIND_ALARM_PREFIX):
            return _alarm_writes(entry)
        if entry.kind == KIND_ROOM_STATE:
            return [
                DerivedWrite(
                    "room_states",
                    entry.seq,
                    {
                        "seq": entry.seq,
                        "site": data["site"],
                        "room": data["room"],
                        "state": data["state"],
                        "source": data["source"],
                        "ts_ns": data["ts_ns"],
                    },
                    mode="insert",
                )
            ]
        if entry.kind in (KIND_CONFIG_LOAD, KIND_CHAIN_KEYED):
            return []
        if entry.kind in audit_batches.KINDS:
            return audit_batches.batch_writes(entry)
        if entry.kind in audit_transients.KINDS:
            return audit_transients.transient_writes(entry)
        if entry.kind in audit_signing.KINDS:
            return audit_signing.signing_writes(entry)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"malformed {entry.kind} entry: missing {exc}") from None
    raise ValueError(f"unknown entry kind {entry.kind!r}")


def _alarm_writes(entry: AuditEntry) -> list[DerivedWrite]:
    data = entry.data
    transition = Transition(data["transition"])
    writes = []
    # An escalation changes nothing about the alarm; its copy of the alarm may
    # be older than the row (computed from a snapshot), so it must not overwrite.
    if transition is not Transition.ESCALATED:
        alarm = alarm_from_record(data["alarm"])
        writes.append(
            DerivedWrite(
                "alarms",
                alarm.id,
                {
                    "id": alarm.id,
                    "state": alarm.state.value,
                    "room": alarm.room,
                    "level": alarm.level.value,
                    "raised_ns": alarm.raised_ns,
                    "record": canonical_json(data["alarm"]),
                    "audit_seq": entry.seq,
                },
            )
        )
    if data.get("excursion") is not None:
        exc = excursion_from_record(data["excursion"])
        writes.append(
            DerivedWrite(
                "excursions",
                exc.id,
                {
                    "id": exc.id,
                    "alarm_id": exc.alarm_id,
                    "room": exc.room,
                    "start_ns": exc.start_ns,
                    "end_ns": exc.end_ns,
                    "record": canonical_json(data["excursion"]),
                    "audit_seq": entry.seq,
                },
            )
        )
    return writes


def _row_key(table: str, key: int | str) -> str:
    return f"{table} {DERIVED_TABLES[table][0]}={key}"


# --- verification --------------------------------------------------------------


def verify_journal(
    entries: Iterable[AuditEntry],
    head: tuple[int, str] | None,
    tables: Mapping[str, Sequence[Mapping[str, Any]]],
    credentials: Mapping[str, str] | None = None,
    key: bytes | None = None,
) -> VerifyResult:
    """Check the hash chain (keyed from its ``chain_keyed`` entry on, with
    ``key``), the recorded chain head, every derived row, and each stored
    password hash against its user's ``credential_sha256``.

    ``entries`` in seq order; ``head`` the recorded (last seq, last hash), or
    None for an empty journal; ``tables`` every row of each derived table;
    ``credentials`` user name -> stored hash (None: not checked); ``key`` the
    journal key (None: keyed entries are reported as unverified).
    """
    entries = list(entries)
    chain = check_chain(entries, key)
    problems = list(chain.problems)
    expected: dict[str, dict[int | str, dict[str, Any]]] = {t: {} for t in DERIVED_TABLES}
    for entry in entries:
        try:
            writes = derived_writes(entry)
        except ValueError as exc:
            problems.append(f"audit seq {entry.seq}: {exc}")
            continue
        for write in writes:
            problem = _apply(expected[write.table], write)
            if problem:
                problems.append(f"audit seq {entry.seq}: {problem}")
    last_seq = chain.last_seq
    if head is None:
        if entries:
            problems.append("chain head: missing (the head row was deleted)")
    else:
        head_seq, head_hash = head
        if head_seq > last_seq:
            problems.append(missing_rows(last_seq + 1, head_seq) + " at the end")
        elif head_seq < last_seq:
            problems.append(f"chain head: says seq {head_seq}, the trail ends at {last_seq}")
        elif head_hash != chain.last_hash:
            problems.append(f"chain head: hash differs from audit seq {last_seq}'s")
    for table, (key_col, columns) in DERIVED_TABLES.items():
        problems.extend(_compare_table(table, key_col, columns, expected[table], tables[table]))
    if credentials is not None:
        problems.extend(_compare_credentials(expected["users"], credentials))
    return VerifyResult(
        ok=not problems and not chain.unverified,
        entries=chain.count,
        problems=problems,
        unverified=chain.unverified,
        keyed_from=chain.mode.keyed_from,
        key_id=chain.mode.key_id,
        last_seq=last_seq,
        last_hash=chain.last_hash,
    )


def _compare_credentials(
    users: Mapping[int | str, Mapping[str, Any]], credentials: Mapping[str, str]
) -> list[str]:
    problems = []
    for name, user in users.items():
        stored = credentials.get(str(name))
        if stored is None:
            problems.append(f"credentials name={name}: missing (row deleted)")
        elif hashlib.sha256(stored.encode("utf-8")).hexdigest() != user["credential_sha256"]:
            problems.append(
                f"credentials name={name}: the password hash differs from the audit trail "
                "(hash replaced)"
            )
    for name in sorted(credentials.keys() - {str(n) for n in users}):
        problems.append(f"credentials name={name}: not in the audit trail (row added)")
    return problems


def _apply(rows: dict[int | str, dict[str, Any]], write: DerivedWrite) -> str | None:
    """Apply one write to the expected rows; a complaint if the trail contradicts itself."""
    exists = write.key in rows
    if write.mode == "insert" and exists:
        return f"creates {_row_key(write.table, write.key)} a second time"
    if write.mode == "update" and not exists:
        return f"refers to {_row_key(write.table, write.key)} that no earlier entry created"
    if exists:
        rows[write.key].update(write.columns)
    else:
        rows[write.key] = dict(write.columns)
    return None


def _compare_table(
    table: str,
    key_col: str,
    columns: Sequence[str],
    expected: Mapping[int | str, Mapping[str, Any]],
    actual_rows: Sequence[Mapping[str, Any]],
) -> list[str]:
    problems = []
    actual = {row[key_col]: row for row in actual_rows}
    for key, want in expected.items():
        have = actual.get(key)
        if have is None:
            problems.append(f"{_row_key(table, key)}: missing (row deleted)")
            continue
        differing = [c for c in columns if have[c] != want.get(c)]
        if differing:
            problems.append(
                f"{_row_key(table, key)}: {', '.join(differing)} differ from the audit trail "
                "(row altered)"
            )
    for key in sorted(actual.keys() - expected.keys(), key=str):
        problems.append(f"{_row_key(table, key)}: not in the audit trail (row added)")
    return problems
