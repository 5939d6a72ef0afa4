"""ISA-18.2 lifecycle: acknowledgement before and after return to normal, latching."""

from __future__ import annotations

from dataclasses import replace

import pytest

from envmon.alarms.errors import AckRefused, AlarmAlreadyAcked, AlarmAlreadyClosed, UnknownAlarm
from envmon.alarms.events import Alarm, AlarmEvent, AlarmState, Level, Transition
from envmon.alarms.lifecycle import AlarmBook, acknowledge, return_to_normal
from tests.support.signing import signature


def active() -> Alarm:
    return Alarm(
        id="abc1234567",
        site="s",
        room="R",
        sensor="X",
        parameter="temperature",
        level=Level.ACTION,
        state=AlarmState.ACTIVE_UNACKED,
        raised_ns=100,
        limit=25.0,
        peak=26.0,
    )


def transitions(events: list[AlarmEvent]) -> list[tuple[Transition, AlarmState]]:
    return [(e.transition, e.alarm.state) for e in events]


class TestLifecycle:
    def test_ack_then_return_to_normal_closes(self) -> None:
        """active_unacked → ack → active_acked → return to normal → closed."""
        acked = acknowledge(active(), "ann", "door left open", 200)
        assert transitions(acked) == [(Transition.ACKED, AlarmState.ACTIVE_ACKED)]
        assert (acked[0].alarm.acked_by, acked[0].alarm.acked_ns) == ("ann", 200)
        assert acked[0].alarm.comment == "door left open"
        done = return_to_normal(acked[0].alarm, 300)
        assert transitions(done) == [
            (Transition.CLEARED, AlarmState.CLOSED),
            (Transition.CLOSED, AlarmState.CLOSED),
        ]
        assert done[0].alarm.cleared_ns == 300

    def test_return_to_normal_then_ack_closes(self) -> None:
        """active_unacked → return to normal → cleared_unacked → ack → closed."""
        cleared = return_to_normal(active(), 300)
        assert transitions(cleared) == [(Transition.CLEARED, AlarmState.CLEARED_UNACKED)]
        done = acknowledge(cleared[0].alarm, "ann", "checked", 400)
        assert transitions(done) == [
            (Transition.ACKED, AlarmState.CLOSED),
            (Transition.CLOSED, AlarmState.CLOSED),
        ]
        assert done[0].alarm.cleared_ns == 300

    def test_latched_until_acknowledged(self) -> None:
        """A cleared alarm is still open (latched) until someone acknowledges it."""
        cleared = return_to_normal(active(), 300)[0].alarm
        assert cleared.open and not cleared.active

    def test_return_to_normal_of_a_cleared_alarm_does_nothing(self) -> None:
        """Only an active alarm can return to normal."""
        cleared = return_to_normal(active(), 300)[0].alarm
        assert return_to_normal(cleared, 400) == []

    def test_second_ack_is_refused(self) -> None:
        """Acknowledging an acknowledged alarm names who did it first."""
        acked = acknowledge(active(), "ann", "ok", 200)[0].alarm
        with pytest.raises(
            AlarmAlreadyAcked, match="was already acknowledged by ann at 1970-01-01"
        ):
            acknowledge(acked, "bob", "me too", 300)

    def test_ack_of_closed_is_refused(self) -> None:
        """A closed alarm cannot be acknowledged again."""
        closed = acknowledge(return_to_normal(active(), 3)[0].alarm, "ann", "ok", 4)[0].alarm
        with pytest.raises(
            AlarmAlreadyClosed, match=r"abc1234567 is already closed \(acknowledged by ann"
        ):
            acknowledge(closed, "bob", "x", 5)

    @pytest.mark.parametrize(("user", "comment"), [("", "why"), ("ann", " ")])
    def test_ack_needs_user_and_comment(self, user: str, comment: str) -> None:
        """An acknowledgement without a user or a comment is refused."""
        with pytest.raises(AckRefused, match="needs a"):
            acknowledge(active(), user, comment, 1)


class TestAlarmBook:
    def test_closed_alarm_leaves_the_open_list(self) -> None:
        """After return to normal and ack the alarm is no longer open."""
        book = AlarmBook()
        book.restore(active())
        book.record(return_to_normal(active(), 300))
        assert [a.state for a in book.open_alarms()] == [AlarmState.CLEARED_UNACKED]
        book.ack("abc1234567", "ann", "checked", 400)
        assert book.open_alarms() == []

    def test_ack_of_closed_alarm_via_book(self) -> None:
        """The book remembers closed alarms to say why an ack is refused."""
        book = AlarmBook()
        book.restore(return_to_normal(active(), 300)[0].alarm)
        book.ack("abc1234567", "ann", "checked", 400)
        with pytest.raises(AlarmAlreadyClosed):
            book.ack("abc1234567", "ann", "again", 500)

    def test_unknown_alarm(self) -> None:
        """An id nobody knows is refused with a hint."""
        with pytest.raises(UnknownAlarm, match="no open alarm 'nope'"):
            AlarmBook().ack("nope", "ann", "x", 1)

    def test_the_active_count_and_the_shelved_follow_every_transition(self) -> None:
        """The count and the shelved set the book keeps agree, after each step of
        a mix of lives, with what a pass over the open alarms finds."""
        book = AlarmBook()

        def agrees() -> None:
            open_now = book.open_alarms()
            assert book.active_count() == sum(a.active for a in open_now)
            shelved = sorted(a.id for a in open_now if a.shelved)
            assert sorted(book._shelved) == shelved

        ids = [f"a{i:09d}" for i in range(6)]
        for i, alarm_id in enumerate(ids):
            book.restore(replace(active(), id=alarm_id, raised_ns=100 + i))
            agrees()
        book.ack(ids[0], "ann", "seen", 200)
        agrees()
        book.record(return_to_normal(book.get(ids[0]), 210))  # acked and back: closed
        agrees()
        book.record(return_to_normal(book.get(ids[1]), 220))  # latched, not active
        agrees()
        for alarm_id in ids[2:4]:
            book.shelve(alarm_id, signature(meaning="shelved"), until_ns=500, at_ns=230)
            agrees()
        book.record(return_to_normal(book.get(ids[2]), 240))  # back to normal while shelved
        agrees()
        book.unshelve(ids[3], signature(meaning="unshelved"), 250)
        agrees()
        assert book.expire_shelved(499) == []
        assert [e.alarm.id for e in book.expire_shelved(500)] == [ids[2]]
        agrees()
        book.ack(ids[1], "ann", "seen", 600)
        agrees()
        assert book.active_count() == 3  # ids 3, 4, 5
        assert not book._shelved
