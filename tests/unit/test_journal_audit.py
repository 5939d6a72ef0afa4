"""The audit trail's pure parts: canonical JSON, hashing, records, the fold, verification."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from envmon.alarms.events import AlarmEvent, Level, Transition
from envmon.journal.audit import (
    DERIVED_TABLES,
    GENESIS_HASH,
    AuditEntry,
    alarm_from_record,
    alarm_to_record,
    canonical_json,
    derived_writes,
    entry_hash,
    event_data,
    excursion_from_record,
    excursion_to_record,
    room_state_data,
    room_state_from_row,
    verify_journal,
)
from envmon.readings import RoomState, RoomStateChange
from tests.support.journal_samples import T0, alarm, cleared, excursion, raised


def chain(specs: list[tuple[str, str, dict[str, Any]]]) -> list[AuditEntry]:
    """Entries with correct hashes, seq from 1."""
    out: list[AuditEntry] = []
    prev = GENESIS_HASH
    for seq, (kind, subject, data) in enumerate(specs, start=1):
        unhashed = AuditEntry(seq, T0, kind, subject, data, "envmon", "")
        entry = AuditEntry(
            seq, T0, kind, subject, data, "envmon", entry_hash(prev, unhashed.content())
        )
        out.append(entry)
        prev = entry.hash
    return out


def tables_from(entries: list[AuditEntry]) -> dict[str, list[dict[str, Any]]]:
    """What an honest journal's derived tables hold after these entries."""
    rows: dict[str, dict[Any, dict[str, Any]]] = {t: {} for t in DERIVED_TABLES}
    for e in entries:
        for w in derived_writes(e):
            rows[w.table].setdefault(w.key, {}).update(w.columns)
    return {t: list(r.values()) for t, r in rows.items()}


def config(n: int) -> tuple[str, str, dict[str, Any]]:
    return ("config_load", "settings", {"path": f"/c{n}", "sha256": "00", "detail": ""})


class TestCanonicalJson:
    def test_key_order_and_spacing_do_not_matter(self) -> None:
        """Equal content gives the same text whatever the key order."""
        assert canonical_json({"b": 1, "a": [1, 2]}) == canonical_json({"a": [1, 2], "b": 1})
        assert canonical_json({"b": 1, "a": "m³"}) == '{"a":"m³","b":1}'

    def test_entry_hash_is_sha256_of_prev_and_content(self) -> None:
        """The hash covers the previous hash followed by the canonical content."""
        content = {"seq": 1, "kind": "x"}
        expected = hashlib.sha256((GENESIS_HASH + '{"kind":"x","seq":1}').encode()).hexdigest()
        assert entry_hash(GENESIS_HASH, content) == expected


class TestRecords:
    def test_alarm_round_trips_exactly(self) -> None:
        """An alarm survives its record form, nanoseconds and enums included."""
        a = alarm("A1", acked_by="alice", acked_ns=T0 + 123_456_789, comment="ok")
        assert alarm_from_record(alarm_to_record(a)) == a

    def test_excursion_round_trips_exactly(self) -> None:
        """An excursion, open or closed, survives its record form."""
        for x in (excursion(alarm()), excursion(alarm(), end_ns=T0 + 5)):
            assert excursion_from_record(excursion_to_record(x)) == x

    def test_room_state_round_trips(self) -> None:
        """A room-state change survives its record form."""
        c = RoomStateChange(T0, "site1", "FILL-A", RoomState.AT_REST, "schedule")
        assert room_state_from_row(room_state_data(c)) == c


class TestDerivedWrites:
    def test_raise_writes_alarm_and_excursion(self) -> None:
        """A RAISED event upserts its alarm and its open excursion, pointing at the entry."""
        (entry,) = chain([("alarm.raised", "A1", event_data(raised(alarm("A1"))))])
        writes = {w.table: w for w in derived_writes(entry)}
        assert set(writes) == {"alarms", "excursions"}
        assert writes["alarms"].columns["audit_seq"] == 1
        assert writes["excursions"].columns["end_ns"] is None

    def test_escalation_writes_nothing_derived(self) -> None:
        """An ESCALATED event leaves the alarm row alone."""
        ev = AlarmEvent(Transition.ESCALATED, alarm("A1"), T0)
        (entry,) = chain([("alarm.escalated", "A1", event_data(ev))])
        assert derived_writes(entry) == []

    def test_config_load_writes_nothing_derived(self) -> None:
        """A config load lives in the audit trail only."""
        (entry,) = chain([config(1)])
        assert derived_writes(entry) == []

    @pytest.mark.parametrize(
        ("kind", "data", "message"),
        [
            ("bogus", {}, "unknown entry kind 'bogus'"),
            ("room_state", {"room": "X"}, "malformed room_state entry"),
            ("alarm.raised", {"unparseable": "{"}, "malformed alarm.raised entry"),
        ],
    )
    def test_malformed_entry_is_a_value_error(
        self, kind: str, data: dict[str, Any], message: str
    ) -> None:
        """An entry that no journal writes is reported, not crashed on."""
        (entry,) = chain([(kind, "s", data)])
        with pytest.raises(ValueError, match=message):
            derived_writes(entry)


class TestVerifyJournal:
    def entries(self) -> list[AuditEntry]:
        a = alarm("A1")
        return chain(
            [
                config(1),
                ("alarm.raised", "A1", event_data(raised(a))),
                ("alarm.cleared", "A1", event_data(cleared(a, T0 + 60))),
                config(2),
            ]
        )

    def test_consistent_journal_passes(self) -> None:
        """An honest chain with matching head and tables has no problems."""
        e = self.entries()
        result = verify_journal(e, (4, e[-1].hash), tables_from(e))
        assert (result.ok, result.entries, result.problems) == (True, 4, [])

    def test_gap_in_the_middle_is_named(self) -> None:
        """A missing middle entry is named, and the next one's link breaks."""
        e = self.entries()
        kept = [e[0], e[1], e[3]]
        result = verify_journal(kept, (4, e[-1].hash), tables_from(e))
        assert result.problems[:2] == [
            "audit seq 3: missing (row deleted)",
            "audit seq 4: hash mismatch: this row was altered, "
            "or the row before it was altered or deleted",
        ]

    def test_truncated_tail_is_named_from_the_head(self) -> None:
        """Entries missing at the end are found through the recorded head."""
        e = self.entries()
        result = verify_journal(e[:2], (4, e[-1].hash), tables_from(e[:2]))
        assert result.problems == ["audit seq 3..4: missing (rows deleted) at the end"]

    def test_missing_head_is_reported(self) -> None:
        """A journal with entries but no head row fails."""
        e = self.entries()
        result = verify_journal(e, None, tables_from(e))
        assert result.problems == ["chain head: missing (the head row was deleted)"]

    def test_head_behind_the_trail_is_reported(self) -> None:
        """A head older than the last entry means entries were added behind its back."""
        e = self.entries()
        result = verify_journal(e, (3, e[2].hash), tables_from(e))
        assert result.problems == ["chain head: says seq 3, the trail ends at 4"]

    def test_derived_row_differing_is_named_with_its_columns(self) -> None:
        """A derived row that differs from the fold names the table, key and columns."""
        e = self.entries()
        tables = tables_from(e)
        tables["alarms"][0] = {**tables["alarms"][0], "state": "closed", "level": "alert"}
        result = verify_journal(e, (4, e[-1].hash), tables)
        assert result.problems == [
            "alarms id=A1: state, level differ from the audit trail (row altered)"
        ]

    def test_self_contradicting_trail_is_reported(self) -> None:
        """An outcome for a request no entry created is a problem of that entry."""
        e = chain([("ack_outcome", "A1", {"id": 7, "outcome": "ok"})])
        result = verify_journal(e, (1, e[0].hash), tables_from([]))
        assert result.problems == [
            "audit seq 1: refers to requests id=7 that no earlier entry created"
        ]

    def test_duplicate_insert_is_reported(self) -> None:
        """Two entries creating the same request (schema 1's ack requests fold into
        ``requests``) contradict each other."""
        req = {"id": 1, "alarm_id": "A1", "user": "u", "comment": "c"}
        e = chain([("ack_request", "A1", req), ("ack_request", "A1", req)])
        tables = tables_from(e[:1])
        tables["requests"][0]["request_seq"] = 1
        result = verify_journal(e, (2, e[1].hash), tables)
        assert result.problems == ["audit seq 2: creates requests id=1 a second time"]

    def test_level_enum_is_stored_by_value(self) -> None:
        """Derived rows hold plain strings, as SQLite gives them back."""
        (entry,) = chain([("alarm.raised", "A1", event_data(raised(alarm(level=Level.ALERT))))])
        alarms_write = derived_writes(entry)[0]
        assert alarms_write.columns["level"] == "alert"
        assert type(alarms_write.columns["level"]) is str
