"""The batch registry in the journal: records, rules in the write, the fold, tampering."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from envmon.batches import BatchBy, BatchEvent, BatchEventKind
from envmon.errors import EnvmonError
from envmon.journal.journal import Journal
from tests.support.journal_samples import T0, S
from tests.support.signing import signature

MES = BatchBy.mqtt("fac/site1/batch")
ROOMS = ("FILL-A", "BG-B")


def start(batch: str = "B-1", at_ns: int = T0) -> BatchEvent:
    return BatchEvent(batch, BatchEventKind.START, at_ns, ROOMS, "lot")


def end(batch: str = "B-1", at_ns: int = T0 + 3600 * S) -> BatchEvent:
    return BatchEvent(batch, BatchEventKind.END, at_ns)


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.sqlite")


class TestRegistry:
    def test_start_and_end_are_recorded_and_listed(self, journal: Journal) -> None:
        """A batch appears at its start and gains its end, with who did each."""
        started = journal.batches.record(start(), MES, rooms_known=ROOMS)
        assert started is not None and started.end_ns is None
        signed = BatchBy.signed(signature(), 5, 2)
        ended = journal.batches.record(end(), signed)
        assert ended is not None
        assert (ended.start_ns, ended.end_ns, ended.started_by, ended.ended_by) == (
            T0,
            T0 + 3600 * S,
            MES,
            signed,
        )
        assert journal.batches.all() == [ended]
        assert journal.batches.get("nope") is None

    def test_a_refused_event_writes_nothing(self, journal: Journal) -> None:
        """A rule's refusal raises with its line and leaves the trail as it was."""
        with pytest.raises(EnvmonError, match="no batch B-1"):
            journal.batches.record(end(), MES)
        journal.batches.record(start(), MES)
        with pytest.raises(EnvmonError, match="exists already"):
            journal.batches.record(start(at_ns=T0 + S), MES)
        assert [e.kind for e in journal.audit_entries()] == ["batch_started"]

    def test_rooms_are_checked_when_the_facility_is_given(self, journal: Journal) -> None:
        """The caller's rooms of the facility are part of the rules."""
        with pytest.raises(EnvmonError, match="BG-B is not a room of the facility"):
            journal.batches.record(start(), MES, rooms_known=("FILL-A",))

    def test_a_redelivery_returns_none_and_writes_nothing(self, journal: Journal) -> None:
        """The MES's same start again is not an error and not a second entry."""
        journal.batches.record(start(), MES)
        assert journal.batches.record(start(), MES) is None
        assert len(journal.audit_entries()) == 1

    def test_a_refusal_can_be_kept_in_the_trail(self, journal: Journal) -> None:
        """``refuse`` journals a refused event with its reason, changing no batch."""
        journal.batches.refuse(end(), MES, "no batch B-1")
        [entry] = journal.audit_entries()
        assert (entry.kind, entry.subject, entry.data["reason"]) == (
            "batch_refused",
            "B-1",
            "no batch B-1",
        )
        assert journal.batches.all() == []


class TestFold:
    def test_the_registry_verifies(self, journal: Journal) -> None:
        """Batch rows are a fold of the trail: an honest journal verifies."""
        journal.batches.record(start(), MES)
        journal.batches.record(end(), BatchBy.signed(signature(), 5, 2))
        journal.batches.record(start("B-2"), MES)
        assert journal.verify().ok

    @pytest.mark.parametrize(
        ("sql", "named"),
        [
            ("UPDATE batches SET end_ns = end_ns + 1 WHERE id = 'B-1'", "end_ns differ"),
            ("UPDATE batches SET rooms = '[\"FILL-A\"]' WHERE id = 'B-1'", "rooms differ"),
            ("DELETE FROM batches WHERE id = 'B-1'", "missing (row deleted)"),
        ],
    )
    def test_an_edited_batch_row_is_named(
        self, journal: Journal, tmp_path: Path, sql: str, named: str
    ) -> None:
        """Changing or deleting a batch row by hand is detected and named."""
        journal.batches.record(start(), MES)
        journal.batches.record(end(), MES)
        with sqlite3.connect(tmp_path / "journal.sqlite") as db:
            db.execute(sql)
        problems = journal.verify().problems
        assert any(p.startswith("batches id=B-1") and named in p for p in problems), problems
