"""The alarm worker when the journal refuses a write: nothing it judged is released,
announced out of order, lost from the record or finished without its record."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from envmon.alarms.commands import ApplySigned, CheckStale, SetRoomState
from envmon.alarms.events import AlarmEvent, AlarmState, Level, Transition
from envmon.batches import BatchEvent, BatchEventKind, BatchMessage
from envmon.journal.batches import Batches
from envmon.journal.journal import Journal, JournalError
from envmon.readings import RoomState, RoomStateChange
from envmon.signing.rules import Act
from tests.support.signing import add_user
from tests.support.wait import wait_for
from tests.support.worker_rig import NS, T0, Rig, dp, running_rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with running_rig(tmp_path) as r:
        yield r


class Refusals:
    """Journal.record_events refusing while ``refusing`` is set; every attempt counted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.refusing = True
        self.attempts: list[list[AlarmEvent]] = []
        real = Journal.record_events

        def record(journal: Journal, events: Sequence[AlarmEvent], **kwargs: object) -> None:
            self.attempts.append(list(events))
            if self.refusing:
                raise JournalError("disk I/O error")
            real(journal, events, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(Journal, "record_events", record)


class TestReadings:
    def test_unsaved_checkpoint_holds_acknowledgements_back(
        self, rig: Rig, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """If the checkpoint cannot be written, nothing is released; it is retried."""
        attempts: list[bool] = []
        real = Journal.save_checkpoint

        def save(self: Journal, checkpoint: dict[str, str], **kwargs: bool) -> None:
            attempts.append(len(attempts) < 2)
            if attempts[-1]:
                raise JournalError("disk full")
            real(self, checkpoint, **kwargs)

        monkeypatch.setattr(Journal, "save_checkpoint", save)
        rig.worker.judge([(1, dp(T0, 14.0))])
        wait_for(lambda: len(attempts) >= 2, 5, "two failed checkpoints")
        assert rig.judged == []
        wait_for(lambda: rig.judged == [1], 5, "the release after a saved checkpoint")

    def test_a_refused_journal_write_holds_the_rest_back_until_it_is_written(
        self, rig: Rig, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The alarm is announced. While the journal refuses it, nobody else is told and
        its reading is not released, checkpoint after checkpoint; once the journal takes
        it, it is recorded, told and released. Before, a checkpoint written after the
        refusal released the reading: the alarm was in no record."""
        attempts: list[int] = []
        real = Journal.record_events

        def refuse_three(self: Journal, events: Sequence[AlarmEvent], **kwargs: object) -> None:
            attempts.append(len(events))
            if len(attempts) <= 3:
                raise JournalError("disk I/O error")
            real(self, events, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(Journal, "record_events", refuse_three)
        rig.worker.judge([(1, dp(T0, 8.0))])
        wait_for(lambda: len(attempts) >= 3, 5, "three refused writes")
        announced = {e.alarm.id for e in rig.outputs.announced}
        assert announced and rig.outputs.events == [] and rig.judged == []
        wait_for(lambda: rig.judged == [1], 5, "the release once the journal took it")
        assert {a.id for a in rig.journal.alarms()} == announced
        assert {e.alarm.id for e in rig.outputs.events} == announced
        assert len(set(attempts)) == 1  # the same events each time, nothing lost or added
        assert "alarm events not journaled, readings held back: disk I/O error" in caplog.text

    def test_a_failed_sync_holds_acknowledgements_back(
        self, rig: Rig, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """If the alarm cannot be put on disk, its reading is not released; it is retried."""
        attempts: list[bool] = []
        disk = rig.worker._disk

        def sync() -> None:
            attempts.append(len(attempts) < 2)
            if attempts[-1]:
                raise JournalError("I/O error")
            rig.journal.sync()

        monkeypatch.setattr(disk, "_sync", sync)
        monkeypatch.setattr(disk, "_retry_s", 0.05)
        rig.worker.judge([(1, dp(T0, 8.0))])
        wait_for(lambda: len(attempts) >= 2, 5, "two failed syncs")
        assert rig.judged == []
        wait_for(lambda: rig.judged == [1], 5, "the release after a sync")
        assert not rig.journal.needs_sync

    def test_a_refused_readings_alarm_goes_in_before_a_later_commands(
        self, rig: Rig, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The journal refuses a reading's alarm once; the comm-loss check right after it
        writes that alarm first, then its own (the fake clock holds the checkpoint off)."""
        refused: list[bool] = []
        real = Journal.record_events

        def refuse_once(self: Journal, events: Sequence[AlarmEvent], **kwargs: object) -> None:
            if not refused:
                refused.append(True)
                raise JournalError("disk I/O error")
            real(self, events, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(Journal, "record_events", refuse_once)
        rig.worker.judge([(1, dp(T0, 8.0))])
        rig.worker.submit(CheckStale((T0 + 3600) * NS))
        wait_for(
            lambda: any(e.alarm.level is Level.COMM_LOSS for e in rig.outputs.events),
            5,
            "comm loss",
        )
        levels = [e.alarm.level for e in rig.outputs.events]
        assert refused and levels[0] is not Level.COMM_LOSS, levels


class TestCommands:
    def test_a_refused_comm_loss_is_held_and_announced_once_recorded(
        self, rig: Rig, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Before, a comm-loss alarm the journal refused was logged and lost: the engine
        had it open and no record had it. Now it is held, unannounced, and written,
        announced and told once the journal takes it."""
        refusals = Refusals(monkeypatch)
        rig.worker.submit(CheckStale((T0 + 3600) * NS))
        wait_for(lambda: len(refusals.attempts) >= 1, 5, "the refused write")
        assert rig.outputs.announced == [] and rig.outputs.events == []
        refusals.refusing = False
        rig.worker.submit(CheckStale((T0 + 3601) * NS))  # the next command retries first
        wait_for(lambda: rig.outputs.events, 5, "the comm-loss alarms told")
        journaled = {a.id for a in rig.journal.alarms() if a.level is Level.COMM_LOSS}
        assert journaled and {e.alarm.id for e in rig.outputs.announced} == journaled
        assert {e.alarm.id for e in rig.outputs.events} == journaled

    def test_a_readings_alarm_waits_behind_a_held_command(
        self, rig: Rig, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """While a comm loss is held, a reading that ends it is not announced ahead of
        it: the retained topic would go from 'returned' back to 'raised'. Both go out
        in order once recorded, and the reading is released only then."""
        refusals = Refusals(monkeypatch)
        rig.worker.submit(CheckStale((T0 + 3600) * NS))
        wait_for(lambda: len(refusals.attempts) >= 1, 5, "the refused comm loss")
        rig.worker.judge([(1, dp(T0 + 3601, 8.0))])
        wait_for(lambda: len(refusals.attempts) >= 3, 5, "the reading's refused write")
        assert rig.outputs.announced == [] and rig.judged == []
        refusals.refusing = False
        wait_for(lambda: rig.judged == [1], 5, "the release once recorded")
        dp1 = [
            e.transition
            for e in rig.outputs.announced
            if e.alarm.sensor == "DP1" and e.alarm.level is Level.COMM_LOSS
        ]
        assert dp1[0] is Transition.RAISED and Transition.RAISED not in dp1[1:], dp1
        assert [e.alarm.id for e in rig.outputs.events] == [
            e.alarm.id for e in rig.outputs.announced
        ]
        recorded = [event.alarm.id for attempt in refusals.attempts[-1:] for event in attempt]
        assert recorded == [e.alarm.id for e in rig.outputs.events]


class TestSignedActs:
    def test_a_refused_ack_stays_pending_and_is_finished_once_recorded(
        self, rig: Rig, monkeypatch: pytest.MonkeyPatch, cheap: None
    ) -> None:
        """Before, an acknowledgement the journal refused was applied in memory only; the
        poll asked again, the engine said 'already acknowledged', and that became the
        request's outcome while no record held the acknowledgement. Now the request stays
        pending however often it is asked again, and is finished 'ok' once its record is
        written."""
        add_user(rig.journal, "jdoe", "operator")
        rig.worker.judge([(1, dp(T0, 8.0))])
        wait_for(lambda: rig.journal.open_alarms(), 5, "the alarm in the journal")
        action = next(a for a in rig.journal.open_alarms() if a.level is Level.ACTION)
        refusals = Refusals(monkeypatch)
        request_id = rig.sign("jdoe", Act.ACK, action.id)
        wait_for(lambda: len(refusals.attempts) >= 1, 5, "the refused acknowledgement")
        for request in rig.journal.requests.pending():  # the poll, twice more
            rig.worker.submit(ApplySigned(request))
            rig.worker.submit(ApplySigned(request))
        wait_for(lambda: len(refusals.attempts) >= 3, 5, "two more tries")
        assert rig.journal.requests.outcome(request_id) is None
        assert not any(e.transition is Transition.ACKED for e in rig.outputs.announced)
        refusals.refusing = False
        assert rig.outcome(request_id) == "ok"
        acked = rig.journal.get_alarm(action.id)
        assert acked is not None and acked.state is AlarmState.ACTIVE_ACKED
        assert [e.transition for e in rig.outputs.events].count(Transition.ACKED) == 1


class TestRoomStates:
    calls: list[int]

    def refuse_twice(self, monkeypatch: pytest.MonkeyPatch) -> list[RoomStateChange]:
        """Journal.record_room_state refusing its first two calls; what it wrote."""
        calls: list[int] = []
        self.calls = calls
        written: list[RoomStateChange] = []
        real = Journal.record_room_state

        def record(journal: Journal, change: RoomStateChange, **kwargs: bool) -> None:
            calls.append(1)
            if len(calls) <= 2:
                raise JournalError("disk I/O error")
            real(journal, change, **kwargs)
            written.append(change)

        monkeypatch.setattr(Journal, "record_room_state", record)
        return written

    def test_a_refused_mqtt_room_state_holds_its_message_back(
        self, rig: Rig, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Before, the next checkpoint released the message and the state was in no
        record; now it is released only once journaled, and journaled once."""
        written = self.refuse_twice(monkeypatch)
        change = RoomStateChange(T0 * NS, "site1", "FILL-A", RoomState.AT_REST)
        rig.worker.judge([(1, change)])
        wait_for(lambda: len(self.calls) >= 2, 5, "two refused writes")
        assert rig.judged == []
        wait_for(lambda: rig.judged == [1], 5, "the release once journaled")
        assert written == [change]
        changes = rig.journal.room_state_changes(0, (T0 + 1) * NS)
        assert [(c.room, c.state) for c in changes] == [("FILL-A", RoomState.AT_REST)]

    def test_a_refused_scheduled_room_state_is_journaled_then_stored(
        self, rig: Rig, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A schedule's state is retried with the next command, and goes to InfluxDB
        only once it is on record."""
        written = self.refuse_twice(monkeypatch)
        change = RoomStateChange(T0 * NS, "site1", "FILL-A", RoomState.AT_REST, "schedule")
        rig.worker.submit(SetRoomState(change))
        rig.worker.submit(CheckStale(T0 * NS))  # retries once, refused again
        wait_for(lambda: len(self.calls) == 2, 5, "two refused writes")
        assert rig.store.lines == [] and written == []
        rig.worker.submit(CheckStale(T0 * NS))
        wait_for(lambda: rig.store.lines, 5, "the room_state line")
        assert written == [change]
        assert rig.store.lines[0].startswith("room_state,")


class TestBatches:
    def test_a_refused_mes_start_holds_its_message_back(
        self, rig: Rig, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Before, the checkpoint after a refused batch start released its message: the
        batch was in no record and the MES would never send it again."""
        calls: list[int] = []
        real = Batches.record

        def record(registry: Batches, *args: Any, **kwargs: Any) -> object:
            calls.append(1)
            if len(calls) <= 2:
                raise JournalError("disk I/O error")
            return real(registry, *args, **kwargs)

        monkeypatch.setattr(Batches, "record", record)
        start = BatchEvent("B-7", BatchEventKind.START, T0 * NS, ("PREP-C",))
        rig.worker.judge([(1, BatchMessage(start, "fac/site1/batch"))])
        wait_for(lambda: len(calls) >= 2, 5, "two refused writes")
        assert rig.judged == [] and rig.journal.batches.get("B-7") is None
        wait_for(lambda: rig.judged == [1], 5, "the release once journaled")
        assert rig.journal.batches.get("B-7") is not None
