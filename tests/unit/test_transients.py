"""Transients: runs beyond a limit that ended before meeting its rules, from the channel
to the journal (round trip, verification, tamper detection)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from envmon.alarms.channel import Channel
from envmon.alarms.events import Level, Transient
from envmon.alarms.lifecycle import AlarmBook
from envmon.gmp import LIMIT_KEYS, RULE_KEYS, ResolvedLimits
from envmon.journal.journal import Journal
from envmon.readings import NS_PER_S, RoomState, StateInForce

S = NS_PER_S
T0 = 1_800_000_000 * S
IN_OP = StateInForce.IN_OPERATION


def limits(**values: Any) -> ResolvedLimits:
    base: dict[str, Any] = dict.fromkeys(LIMIT_KEYS)
    base.update(delay_s=0.0, consecutive=1, n_of_m=None, window_s=None, deadband=0.0)
    base.update(values)
    return ResolvedLimits(**base, sources=dict.fromkeys((*LIMIT_KEYS, *RULE_KEYS), "test"))


def channel(lim: ResolvedLimits, parameter: str = "diff_pressure") -> tuple[Channel, AlarmBook]:
    by_state = {RoomState.AT_REST: lim, RoomState.IN_OPERATION: lim}
    return Channel("site1", "FILL-A", "DP-1", parameter, by_state, "ISO-1"), AlarmBook()


def feed(ch: Channel, book: AlarmBook, samples: list[tuple[float, float]]) -> list[Any]:
    events: list[Any] = []
    for t, v in samples:
        events += ch.observe(v, None, T0 + int(t * S), IN_OP, book)
    return events


class TestChannelTransients:
    def test_dip_shorter_than_delay_gives_one_transient_per_level(self) -> None:
        """A 30 s dip to 8 Pa under a 60 s delay crosses alert 12 and action 10: no alarm,
        one transient each, from the first reading beyond to the first back within."""
        ch, book = channel(limits(alert_low=12.0, action_low=10.0, delay_s=60))
        samples = [(0, 15), (10, 11), (20, 8), (30, 9), (40, 15)]
        assert feed(ch, book, samples) == []
        assert ch.transients == [
            Transient("site1", "FILL-A", "ISO-1", "DP-1", "diff_pressure", Level.ALERT, "low",
                      T0 + 10 * S, T0 + 40 * S, 8.0, 3, 12.0),
            Transient("site1", "FILL-A", "ISO-1", "DP-1", "diff_pressure", Level.ACTION, "low",
                      T0 + 20 * S, T0 + 40 * S, 8.0, 2, 10.0),
        ]  # fmt: skip
        assert ch.transients[0].duration_s == 30.0

    def test_a_dip_that_meets_the_delay_is_an_excursion_not_a_transient(self) -> None:
        """Beyond for the whole delay: alarm raised and cleared, no transient."""
        ch, book = channel(limits(action_low=10.0, delay_s=60))
        events = feed(ch, book, [(0, 8), (30, 7), (60, 9), (70, 15)])
        assert [e.transition.value for e in events] == ["raised", "cleared"]
        assert ch.transients == []

    def test_consecutive_rule(self) -> None:
        """Two beyond under consecutive = 3 is a transient on the high side, its maximum
        as peak; three in a row is an excursion."""
        ch, book = channel(limits(action_high=29.0, consecutive=3), "particles_5_0um")
        feed(ch, book, [(0, 35), (60, 70), (120, 0)])
        [t] = ch.transients
        assert (t.side, t.peak, t.samples, t.start_ns, t.end_ns) == (
            "high", 70.0, 2, T0, T0 + 120 * S
        )  # fmt: skip
        raised = feed(ch, book, [(180, 35), (240, 35), (300, 35)])
        assert [e.transition.value for e in raised] == ["raised"]
        assert len(ch.transients) == 1

    def test_n_of_m_rule(self) -> None:
        """One beyond then back under 2 of 5 is a transient; the count then completing
        raises, and that excursion ends as a clear, not a transient."""
        ch, book = channel(limits(action_high=29.0, n_of_m=(2, 5)), "particles_5_0um")
        feed(ch, book, [(0, 35), (60, 0)])
        [t] = ch.transients
        assert (t.samples, t.peak, t.limit) == (1, 35.0, 29.0)
        events = feed(ch, book, [(120, 40), (180, 0)])
        assert [e.transition.value for e in events] == ["raised", "cleared"]
        assert len(ch.transients) == 1

    def test_nothing_is_allocated_while_within(self) -> None:
        """Readings within every limit leave the list empty (the hot path)."""
        ch, book = channel(limits(alert_low=12.0, action_low=10.0, delay_s=60))
        feed(ch, book, [(i, 15) for i in range(100)])
        assert ch.transients == []


def transient(room: str = "FILL-A", start_s: int = 0, level: Level = Level.ACTION) -> Transient:
    return Transient("site1", room, None, "DP-1", "diff_pressure", level, "low",
                     T0 + start_s * S, T0 + (start_s + 30) * S, 8.0, 3, 10.0)  # fmt: skip


class TestJournalTransients:
    def test_round_trip_window_rooms_and_once_only(self, tmp_path: Path) -> None:
        """Recorded transients come back exactly, by window and room; the same span
        recorded again (a redelivery) is kept once; the journal verifies."""
        path = tmp_path / "journal.sqlite"
        with Journal(path) as journal:
            first = [transient(), transient("BG-B", 60), transient(start_s=600)]
            assert journal.record_transients(first) == 3
            assert journal.record_transients([transient()]) == 0
            assert journal.transients(T0, T0 + 300 * S, ["FILL-A"]) == [transient()]
            assert journal.transients(T0, T0 + 3600 * S) == sorted(first, key=lambda t: t.start_ns)
            [entry] = [e for e in journal.audit_entries() if e.subject.endswith(f"/{T0}")]
            assert entry.kind == "transient"
            result = journal.verify()
            assert (result.ok, result.problems) == (True, [])

    def test_an_edited_or_deleted_row_is_detected(self, tmp_path: Path) -> None:
        """Changing a transient's record, or deleting it, fails verification naming it."""
        path = tmp_path / "journal.sqlite"
        with Journal(path) as journal:
            journal.record_transients([transient(), transient(start_s=600)])
        ident = f"FILL-A/DP-1/diff_pressure/action/low/{T0}"
        with sqlite3.connect(path) as db:
            db.execute("UPDATE transients SET record = replace(record, '8.0', '9.5')")
            db.execute("DELETE FROM transients WHERE start_ns > ?", (T0,))
        with Journal(path) as journal:
            problems = journal.verify().problems
        assert any(p.startswith(f"transients id={ident}: record differ") for p in problems)
        assert any("missing (row deleted)" in p for p in problems), problems
