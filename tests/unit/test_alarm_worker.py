"""The alarm worker in-process: judgement, the journal and the outputs in order, checkpoints and
acks, commands."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from envmon.alarms import worker as worker_module
from envmon.alarms.commands import (
    CheckEscalations,
    CheckStale,
    ExpireShelved,
    Reload,
    SetRoomState,
    WriteLimits,
)
from envmon.alarms.engine import AlarmEngine
from envmon.alarms.events import AlarmEvent, AlarmState, Level, Transition
from envmon.batches import BatchBy, BatchEvent, BatchEventKind, BatchMessage, event_params
from envmon.facility import parse_facility
from envmon.journal.journal import Journal
from envmon.readings import Reading, RoomState, RoomStateChange, StateInForce
from envmon.signing.rules import Act
from tests.support.facilities import SMALL_FACILITY
from tests.support.signing import add_user
from tests.support.wait import wait_for
from tests.support.worker_rig import NS, T0, Rig, dp, running_rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with running_rig(tmp_path) as r:
        yield r


class TestJudgement:
    def test_alarm_is_journaled_before_the_outputs_see_it(self, rig: Rig) -> None:
        """A reading beyond the action limit raises an alarm: in the journal, then sent out."""
        rig.worker.judge([(1, dp(T0, 14.0)), (2, dp(T0 + 1, 8.0))])
        wait_for(lambda: rig.outputs.events, 5, "the alarm events")
        levels = {e.alarm.level for e in rig.outputs.events}
        assert levels == {Level.ALERT, Level.ACTION}
        journaled = {a.id for a in rig.journal.alarms()}
        assert {e.alarm.id for e in rig.outputs.events} <= journaled

    def test_judged_messages_are_released_after_the_checkpoint(self, rig: Rig) -> None:
        """Once idle, the worker checkpoints and reports the last message it judged."""
        rig.worker.judge([(1, dp(T0, 14.0)), (2, dp(T0 + 1, 14.5))])
        wait_for(lambda: rig.judged and rig.judged[-1] == 2, 5, "on_judged(2)")

    def test_stop_judges_everything_queued(self, rig: Rig) -> None:
        """Stopping finishes the queue first and releases the last message."""
        rig.worker.judge([(i + 1, dp(T0 + i, 14.0)) for i in range(200)])
        rig.stop()
        assert rig.judged[-1] == 200
        assert not rig.worker.alive

    def test_a_failing_reading_costs_only_itself(
        self, rig: Rig, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An error judging one reading is logged; the rest of the batch is judged."""
        real = AlarmEngine.on_reading

        def flaky(self: AlarmEngine, r: Reading) -> list[AlarmEvent]:
            if r.values["diff_pressure"] == 13.0:
                raise RuntimeError("bug")
            return real(self, r)

        monkeypatch.setattr(AlarmEngine, "on_reading", flaky)
        rig.worker.judge([(1, dp(T0, 13.0)), (2, dp(T0 + 1, 8.0))])
        wait_for(lambda: rig.outputs.events, 5, "the alarm of the second reading")
        wait_for(lambda: rig.judged and rig.judged[-1] == 2, 5, "on_judged(2)")
        assert rig.worker.alive

    def test_alarm_of_a_reading_is_on_disk_before_its_reading_is_released(
        self, rig: Rig, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The alarm a reading raises is announced, committed unsynced and told; the
        journal is synced (on its own thread) before the reading is released to be
        acknowledged."""
        steps: list[str] = []
        real_record = Journal.record_events
        disk = rig.worker._disk

        def record(self: Journal, events: Sequence[AlarmEvent], **kwargs: bool) -> None:
            steps.append(f"record synced={kwargs.get('synced')}")
            real_record(self, events, **kwargs)

        def sync() -> None:
            steps.append(f"sync needed={rig.journal.needs_sync}")
            rig.journal.sync()

        monkeypatch.setattr(Journal, "record_events", record)
        monkeypatch.setattr(disk, "_sync", sync)
        monkeypatch.setattr(disk, "_on_judged", lambda seq: steps.append(f"judged {seq}"))
        rig.outputs.announce = lambda events: steps.append("announced")  # type: ignore[method-assign]
        rig.outputs.send = lambda events: steps.append("told")  # type: ignore[method-assign]
        rig.worker.judge([(1, dp(T0, 8.0))])
        wait_for(lambda: "judged 1" in steps, 5, "on_judged(1)")
        after = steps[steps.index("announced") :]
        assert after[:5] == [
            "announced",
            "record synced=False",
            "told",
            "sync needed=True",
            "judged 1",
        ]
        assert not rig.journal.needs_sync

    def test_scheduled_alarms_are_synced_when_journaled(
        self, rig: Rig, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A comm-loss alarm has no reading to be redelivered: on disk before it is
        announced or told."""
        steps: list[object] = []
        real = Journal.record_events

        def record(self: Journal, events: Sequence[AlarmEvent], **kwargs: object) -> None:
            real(self, events, **kwargs)  # type: ignore[arg-type]
            steps.append(f"recorded synced={kwargs.get('synced')}")

        monkeypatch.setattr(Journal, "record_events", record)
        rig.outputs.announce = lambda events: steps.append("announced")  # type: ignore[method-assign]
        rig.worker.submit(CheckStale((T0 + 3600) * NS))
        wait_for(lambda: "announced" in steps, 5, "the comm-loss alarms")
        assert steps[0] == "recorded synced=True"
        assert steps.index("announced") > 0
        assert all(s == "recorded synced=True" for s in steps if s != "announced")

    def test_mqtt_room_state_is_journaled_not_stored_again(self, rig: Rig) -> None:
        """A room state from MQTT was stored on arrival; the worker journals it."""
        change = RoomStateChange(T0 * NS, "site1", "FILL-A", RoomState.AT_REST)
        rig.worker.judge([(1, change)])
        wait_for(lambda: rig.judged and rig.judged[-1] == 1, 5, "the room state judged")
        changes = rig.journal.room_state_changes(0, (T0 + 1) * NS)
        assert [(c.room, c.state, c.source) for c in changes] == [
            ("FILL-A", RoomState.AT_REST, "mqtt")
        ]
        assert rig.store.lines == []


class TestCommands:
    def test_scheduled_room_state_is_journaled_and_stored(self, rig: Rig) -> None:
        """A schedule's room state exists only here: journaled and written to InfluxDB."""
        change = RoomStateChange(T0 * NS, "site1", "FILL-A", RoomState.AT_REST, "schedule")
        rig.worker.submit(SetRoomState(change))
        wait_for(lambda: rig.store.lines, 5, "the room_state line")
        assert rig.store.lines[0].startswith("room_state,")
        assert rig.engine.room_state("FILL-A", T0 * NS) is StateInForce.AT_REST

    def test_stale_check_raises_comm_loss(self, rig: Rig) -> None:
        """A sensor silent past its stale_after_s gets a comm_loss alarm (wall clock)."""
        rig.clock.advance(10)
        rig.worker.submit(CheckStale(rig.clock.wall_ns()))
        wait_for(lambda: rig.outputs.events, 5, "comm_loss alarms")
        assert {e.alarm.level for e in rig.outputs.events} == {Level.COMM_LOSS}
        assert {e.alarm.sensor for e in rig.outputs.events} == {"PC1", "DP1"}

    def test_escalation_happens_once(self, rig: Rig) -> None:
        """An unacknowledged action alarm escalates once, however often the job runs."""
        rig.worker.judge([(1, dp(T0, 8.0))])
        wait_for(lambda: rig.outputs.events, 5, "the alarm")
        later = (T0 + 120) * NS
        rig.worker.submit(CheckEscalations(later))
        rig.worker.submit(CheckEscalations(later + NS))
        wait_for(
            lambda: any(e.transition is Transition.ESCALATED for e in rig.outputs.events),
            5,
            "the escalation",
        )
        rig.stop()
        escalated = [e for e in rig.outputs.events if e.transition is Transition.ESCALATED]
        assert [e.alarm.level for e in escalated] == [Level.ACTION]

    def test_signed_ack_is_applied_and_finished(self, rig: Rig, cheap: None) -> None:
        """A signed acknowledgement from the journal is applied, with its signature."""
        add_user(rig.journal, "jdoe", "operator")
        rig.worker.judge([(1, dp(T0, 8.0))])
        wait_for(lambda: rig.journal.open_alarms(), 5, "the alarm in the journal")
        action = next(a for a in rig.journal.open_alarms() if a.level is Level.ACTION)
        assert rig.outcome(rig.sign("jdoe", Act.ACK, action.id)) == "ok"
        acked = rig.journal.get_alarm(action.id)
        assert acked is not None and acked.state is AlarmState.ACTIVE_ACKED
        assert acked.acked_by == "jdoe" and acked.signatures[0].meaning == "acknowledged"
        assert rig.outputs.events[-1].transition is Transition.ACKED

    def test_refused_request_records_why(self, rig: Rig, cheap: None) -> None:
        """A second acknowledgement of the same alarm is refused with the engine's reason."""
        add_user(rig.journal, "jdoe", "operator")
        rig.worker.judge([(1, dp(T0, 8.0))])
        wait_for(lambda: rig.journal.open_alarms(), 5, "the alarm in the journal")
        alarm_id = rig.journal.open_alarms()[0].id
        first = rig.sign("jdoe", Act.ACK, alarm_id)
        assert rig.outcome(first) == "ok"
        second = rig.sign("jdoe", Act.ACK, alarm_id)
        assert "already" in rig.outcome(second)

    def test_shelved_alarm_returns_at_expiry(self, rig: Rig, cheap: None) -> None:
        """A shelved alarm is unshelved by the expiry check once its time has passed."""
        add_user(rig.journal, "eng", "engineer")
        rig.worker.judge([(1, dp(T0, 8.0))])
        wait_for(lambda: rig.journal.open_alarms(), 5, "the alarm in the journal")
        alarm_id = rig.journal.open_alarms()[0].id
        until = rig.clock.wall_ns() + 60 * NS
        assert rig.outcome(rig.sign("eng", Act.SHELVE, alarm_id, until_ns=until))
        shelved = rig.journal.get_alarm(alarm_id)
        assert shelved is not None and shelved.state is AlarmState.SHELVED
        rig.worker.submit(ExpireShelved(until + NS))
        wait_for(
            lambda: (a := rig.journal.get_alarm(alarm_id)) and a.state is not AlarmState.SHELVED,
            5,
            "the alarm unshelved",
        )

    def test_out_of_service_reaches_ingest(self, rig: Rig, cheap: None) -> None:
        """Taking a sensor out of service hands the new service states on (to ingest)."""
        add_user(rig.journal, "eng", "engineer")
        assert rig.outcome(rig.sign("eng", Act.OUT_OF_SERVICE, "DP1", until_ns=None))
        wait_for(lambda: rig.service_states, 5, "the service states handed on")
        assert rig.service_states[-1].out_of_service("DP1", rig.clock.wall_ns())

    def test_signed_room_state_is_journaled_with_its_user(self, rig: Rig, cheap: None) -> None:
        """A room state set by signature is journaled with ``user:<name>`` as its source."""
        add_user(rig.journal, "eng", "engineer")
        request_id = rig.sign("eng", Act.ROOM_STATE, "FILL-A", state="at_rest")
        assert rig.outcome(request_id) == "ok"
        [change] = rig.journal.room_state_changes(0, rig.clock.wall_ns() + NS)
        assert (change.state, change.source) == (RoomState.AT_REST, "user:eng")
        assert rig.store.lines[0].startswith("room_state,")

    def test_limits_are_written_a_slice_at_a_time(
        self, rig: Rig, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Each room's limits go out in slices, readings judged in between."""
        monkeypatch.setattr(worker_module, "LIMITS_ROOMS_PER_SLICE", 1)
        rig.worker.submit(WriteLimits(T0 * NS))
        wait_for(lambda: len(rig.store.calls) >= 2, 5, "two slices")
        rooms = {line.split("room=")[1].split(",")[0] for line in rig.store.lines}
        assert rooms == {"FILL-A", "PREP-C"}

    def test_reload_judges_against_the_new_limits(self, rig: Rig) -> None:
        """After a reload, a reading is judged against the reloaded facility's limits."""
        stricter = SMALL_FACILITY.replace("action_low = 10.0", "action_low = 11.0")
        rig.worker.submit(Reload(parse_facility(stricter)))
        rig.worker.judge([(1, dp(T0, 10.5))])
        wait_for(lambda: rig.outputs.events, 5, "the alarm under the new limit")
        assert {e.alarm.level for e in rig.outputs.events} == {Level.ALERT, Level.ACTION}


class TestBatches:
    """MES batch messages and signed batch requests reach the registry through the worker."""

    TOPIC = "fac/site1/batch"

    def mes(self, event: BatchEventKind, at_s: int, rooms: tuple[str, ...] = ()) -> BatchMessage:
        return BatchMessage(BatchEvent("B-7", event, at_s * NS, rooms), self.TOPIC)

    def test_an_mes_start_and_end_are_journaled_then_acknowledged(self, rig: Rig) -> None:
        """Each message is in the registry, from its topic, before its ack is released."""
        rig.worker.judge([(1, self.mes(BatchEventKind.START, T0, ("PREP-C",)))])
        wait_for(lambda: 1 in rig.judged, 5, "the start acknowledged")
        started = rig.journal.batches.get("B-7")
        assert started is not None and started.started_by == BatchBy.mqtt(self.TOPIC)
        rig.worker.judge([(2, self.mes(BatchEventKind.END, T0 + 60))])
        wait_for(lambda: 2 in rig.judged, 5, "the end acknowledged")
        ended = rig.journal.batches.get("B-7")
        assert ended is not None and ended.end_ns == (T0 + 60) * NS

    def test_a_redelivered_start_writes_nothing(self, rig: Rig) -> None:
        """The broker's second copy of a start is recognised and not journaled again."""
        start = self.mes(BatchEventKind.START, T0, ("PREP-C",))
        rig.worker.judge([(1, start), (2, start)])
        wait_for(lambda: 2 in rig.judged, 5, "both acknowledged")
        kinds = [e.kind for e in rig.journal.audit_entries()]
        assert kinds.count("batch_started") == 1 and "batch_refused" not in kinds

    def test_a_refused_mes_event_is_journaled_with_why(self, rig: Rig) -> None:
        """Ending an unknown batch is refused; the refusal is in the trail with its reason."""
        rig.worker.judge([(1, self.mes(BatchEventKind.END, T0))])
        wait_for(lambda: 1 in rig.judged, 5, "the message acknowledged")
        [refused] = [e for e in rig.journal.audit_entries() if e.kind == "batch_refused"]
        assert refused.data["reason"] == "no batch B-7 (see `envmon batches`)"
        assert refused.data["by"] == {"how": "mqtt", "topic": self.TOPIC}

    def test_a_signed_start_is_journaled_with_its_outcome(self, rig: Rig, cheap: None) -> None:
        """A signed start is in the registry with its signature, and its request is ok."""
        add_user(rig.journal, "jdoe", "engineer")
        event = BatchEvent("B-8", BatchEventKind.START, T0 * NS, ("PREP-C",), "lot 8")
        request_id = rig.sign("jdoe", Act.BATCH, "B-8", **event_params(event))
        assert rig.outcome(request_id) == "ok"
        batch = rig.journal.batches.get("B-8")
        assert batch is not None and batch.started_by.signature is not None
        assert (batch.started_by.signature.user, batch.started_by.request_id) == (
            "jdoe",
            request_id,
        )

    def test_a_signed_start_of_an_unknown_room_is_refused(self, rig: Rig, cheap: None) -> None:
        """Rooms are checked against the running facility; the refusal is the outcome."""
        add_user(rig.journal, "jdoe", "engineer")
        event = BatchEvent("B-9", BatchEventKind.START, T0 * NS, ("NOPE",))
        request_id = rig.sign("jdoe", Act.BATCH, "B-9", **event_params(event))
        assert rig.outcome(request_id) == "refused: no room NOPE in the facility"
        assert rig.journal.batches.get("B-9") is None

    def test_a_signed_second_start_is_refused_by_the_registry(self, rig: Rig, cheap: None) -> None:
        """The registry's rules apply to signed requests too: an id is never reused."""
        add_user(rig.journal, "jdoe", "engineer")
        event = BatchEvent("B-10", BatchEventKind.START, T0 * NS, ("PREP-C",))
        first = rig.sign("jdoe", Act.BATCH, "B-10", **event_params(event))
        assert rig.outcome(first) == "ok"
        again = rig.sign("jdoe", Act.BATCH, "B-10", **event_params(event))
        outcome = rig.outcome(again)
        assert outcome.startswith("refused: batch B-10 exists already")
