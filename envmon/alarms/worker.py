"""The alarm worker: the thread that owns the alarm engine.

Work arrives on one queue, in order: batches of readings, room-state
changes and MES batch messages to judge or journal (from the ingest router,
one batch per socket read) and commands (from scheduled jobs, signed
requests and reloads). A batch that finds the queue empty and the engine
free is judged at once by the thread that brought it (``envmon.alarms.turns``).
Each transition the engine produces is written to the journal, with the
engine's checkpoint in the same transaction (the record of truth), and sent
to the outputs (``AlarmOutputs``): announced on the retained topic, then
InfluxDB, the log and people's channels after the journal.

Acknowledgements to the broker wait for judgement: while busy, the worker
checkpoints the engine at most every ``CHECKPOINT_EVERY_S`` (each checkpoint
is a journal transaction, so not per batch), and the last message it judged
goes to ``on_judged`` once the journal is on disk (``DiskRelease``, synced on
its own thread); a message is acknowledged once it is durable and judged
(``envmon.ingest.ackgate``). So what readings raise is announced, journaled
without waiting for the disk, told, and on disk before those readings are
acknowledged; what commands raise (a sensor gone silent, a signed act) is on
disk before it is announced or told.

Why a reading's alarm may be announced before the journal has it, and what
happens when the journal refuses a write: ``envmon.alarms.recorder``.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Final, Protocol

from envmon.alarms.commands import (
    ApplySigned,
    CheckEscalations,
    CheckStale,
    Command,
    ExpireShelved,
    Reload,
    SetRoomState,
    WriteLimits,
)
from envmon.alarms.engine import AlarmEngine
from envmon.alarms.events import AlarmEvent
from envmon.alarms.mes_batches import record_mes_batch, record_signed_batch
from envmon.alarms.recorder import AlarmOutputs, EventRecorder
from envmon.alarms.release import DiskRelease
from envmon.alarms.turns import Turns, Wake
from envmon.batches import BatchBy, BatchMessage
from envmon.calibration.state import CalibrationRecord
from envmon.errors import EnvmonError
from envmon.facility import Facility
from envmon.ingest.router import JudgeBatch
from envmon.journal.journal import Journal
from envmon.journal.requests import OUTCOME_OK, SignedRequest
from envmon.notify.escalation import due_escalations
from envmon.readings import Reading, RoomStateChange
from envmon.runtime.clock import Clock
from envmon.runtime.heap import freeze_long_lived
from envmon.runtime.lifecycle import Deadline
from envmon.sensor_service import ServiceStates
from envmon.signing.apply import Applied, apply_request
from envmon.store.limits_points import LimitsPoints
from envmon.store.lineproto import room_state_line

log = logging.getLogger("envmon.alarms")

CHECKPOINT_EVERY_S: Final = 0.25
# A slice is judged between readings: at 100 rooms one took 25-60 ms on a
# loaded 2-core machine, holding back any alarm that came meanwhile.
LIMITS_ROOMS_PER_SLICE: Final = 25
# On stop, what the worker leaves for the components stopped after it.
_STOP_RESERVE_S: Final = 5.0


class _CheckpointDue:
    """What waiting returns when the checkpoint is due before more work arrives."""


_CHECKPOINT_DUE: Final = _CheckpointDue()

_Item = JudgeBatch | Command | None
"""``None`` asks the worker to finish."""
_Got = _Item | Wake | _CheckpointDue


class LineSink(Protocol):
    def submit_lines(self, lines: Sequence[str]) -> None:
        """Store lines of line protocol; nothing waits for them."""
        ...


class AlarmWorker:
    """Judges readings on its own thread; see the module docstring."""

    name = "alarm worker"

    def __init__(
        self,
        engine: AlarmEngine,
        journal: Journal,
        outputs: AlarmOutputs,
        store: LineSink,
        *,
        on_judged: Callable[[int], None],
        escalate_after_s: float,
        clock: Clock,
        on_active_count: Callable[[int], None] = lambda n: None,
        on_service_states: Callable[[ServiceStates], None] = lambda states: None,
        on_calibration: Callable[[Sequence[CalibrationRecord]], None] = lambda records: None,
    ) -> None:
        self.engine = engine
        self._journal = journal
        self._recorder = EventRecorder(engine, journal, outputs, on_active_count)
        self._store = store
        # Acknowledgements wait for the journal on disk, synced off this thread.
        self._disk = DiskRelease(journal.sync, on_judged)
        self._escalate_after_s = escalate_after_s
        self._clock = clock
        self._on_service_states = on_service_states
        self._on_calibration = on_calibration
        self._turns: Turns[_Item] = Turns()
        self._thread = threading.Thread(target=self._run, name="envmon-alarms", daemon=True)
        # The worker thread's own, from here on.
        self._escalated: set[str] = journal.escalated_alarm_ids()
        self.service_states = journal.requests.service_states()
        engine.set_service_states(self.service_states)
        self._limits_points: LimitsPoints | None = None
        self._judged_seq = -1
        self._checkpointed_seq = -1
        # Signed acts applied whose outcome is not journaled yet: how to finish each.
        self._finishing: dict[int, Callable[[], None]] = {}

    # --- any thread -----------------------------------------------------------

    def judge(self, batch: JudgeBatch) -> None:
        """Judge these messages, in order (the router's batch of one socket read):
        here and now when nothing is queued and the engine is free, else queued.
        An MES batch message is always queued: its journal write waits for the
        disk, which the network thread must not."""
        with self._turns.callers_turn() as mine:
            if mine and not any(isinstance(item, BatchMessage) for _, item in batch):
                self._judge_safely(batch)
                return
        self._turns.put(batch)

    def submit(self, command: Command) -> None:
        self._turns.put(command)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # --- lifecycle --------------------------------------------------------------

    def validate(self) -> None:
        pass

    def start(self) -> None:
        self._disk.start()
        self._thread.start()

    def stop(self, deadline: Deadline) -> None:
        """Judge what is queued, checkpoint it, release it once on disk, and end the threads."""
        self._turns.only_the_worker()
        self._turns.put(None)
        self._thread.join(timeout=deadline.remaining(0.5, reserve_s=_STOP_RESERVE_S))
        if self._thread.is_alive():
            log.error("alarm worker did not finish in time; unjudged readings are redelivered")
        self._disk.stop(deadline)

    def close(self) -> None:
        pass

    # --- the worker thread ------------------------------------------------------

    def _run(self) -> None:
        next_checkpoint = self._clock.monotonic() + CHECKPOINT_EVERY_S
        while True:
            item = self._next(next_checkpoint)
            with self._turns.engine:
                if item is None:
                    self._checkpoint()
                    return
                if not isinstance(item, _CheckpointDue | Wake):
                    try:
                        self._handle(item)
                    except Exception:
                        # The worker must survive anything one item does; the readings
                        # themselves are already on their way to storage.
                        log.exception("alarm worker failed on %r", item)
                    self._turns.done()
                if isinstance(item, _CheckpointDue) or self._clock.monotonic() >= next_checkpoint:
                    self._checkpoint()
                    next_checkpoint = self._clock.monotonic() + CHECKPOINT_EVERY_S

    def _next(self, next_checkpoint: float) -> _Got:
        """The next item, or ``_CHECKPOINT_DUE`` when judged messages wait for their
        checkpoint and it is due before more work arrives."""
        with self._turns.engine:
            unsaved = (
                self._judged_seq > self._checkpointed_seq
                or self.engine.has_unsaved_state
                or self._recorder.holding
            )
            self._turns.sleeping(idle=not unsaved)
        if not unsaved:
            return self._turns.get()
        wait_s = next_checkpoint - self._clock.monotonic()
        if wait_s <= 0:
            return _CHECKPOINT_DUE
        try:
            return self._turns.get(wait_s)
        except queue.Empty:
            return _CHECKPOINT_DUE

    def _checkpoint(self) -> None:
        """Save what the engine judged, then let those messages be acknowledged once
        the journal is on disk."""
        if not self._recorder.flush():
            return
        try:
            self._recorder.record_transients(synced=False)
            self._journal.save_checkpoint(self.engine.checkpoint(), synced=False)
        except EnvmonError as exc:
            # Without the checkpoint the messages stay unacknowledged: the broker
            # keeps them, and the next start judges them again.
            self.engine.checkpoint_lost()
            log.error("alarm checkpoint not saved, acknowledgements held back: %s", exc)
            return
        self._checkpointed_seq = self._judged_seq
        self._disk.release(self._judged_seq)

    def _handle(self, item: JudgeBatch | Command) -> None:
        match item:
            case list():
                self._judge(item)
            case CheckStale(now_ns):
                self._emit(self.engine.check_stale(now_ns))
            case CheckEscalations(now_ns):
                events = due_escalations(
                    self.engine.open_alarms(), now_ns, self._escalate_after_s, self._escalated
                )
                self._escalated.update(e.alarm.id for e in events)
                self._emit(events)
            case WriteLimits(now_ns, first_room):
                next_room = self._write_limits(now_ns, first_room)
                if next_room is not None:
                    # The rest after the readings queued meanwhile: a campus in
                    # one go held judgement back for a quarter of a second.
                    self._turns.put(WriteLimits(now_ns, next_room))
            case Reload(facility):
                self._reload(facility)
            case ApplySigned(request):
                self._apply_signed(request)
            case ExpireShelved(now_ns):
                self._emit(self.engine.expire_shelved(now_ns))
            case SetRoomState(change):
                self._room_state(change, synced=True)

    def _judge_safely(self, batch: JudgeBatch) -> None:
        try:
            self._judge(batch)
        except Exception:
            log.exception("alarm worker failed on a read of %d messages", len(batch))

    def _judge(self, batch: JudgeBatch) -> None:
        for seq, item in batch:
            self._judged_seq = seq  # stored whatever happens here: acked at the checkpoint
            try:
                if isinstance(item, Reading):
                    events = self.engine.on_reading(item)
                elif isinstance(item, BatchMessage):
                    self._mes_batch(item)
                    continue
                else:
                    self._room_state(item, synced=False)
                    continue
                self._emit(events, synced=False)
            except Exception:
                # One bad item must not cost the rest of the batch their judgement.
                log.exception("alarm worker failed on %r", item)
        if self.engine.transients:
            self._recorder.record_transients(synced=False)

    def _mes_batch(self, message: BatchMessage) -> None:
        """In order with the readings, so a batch's start is on record before the
        readings judged after it, and its message is released only once it is."""
        rooms = self.engine.facility.rooms
        self._recorder.record(
            (), synced=False, write=lambda: record_mes_batch(self._journal, message, rooms)
        )

    def _room_state(
        self,
        change: RoomStateChange,
        *,
        synced: bool,
        events: Sequence[AlarmEvent] = (),
        then: Callable[[], None] | None = None,
    ) -> None:
        """A room state in force: judged, journaled with what it raised (after
        ``events``), then stored; MQTT states were stored on arrival."""
        raised = [*events, *self.engine.on_room_state(change)]

        def after() -> None:
            if change.source != "mqtt":
                self._store.submit_lines([room_state_line(change)])
            if then is not None:
                then()

        def write() -> None:
            self._journal.record_room_state(change, synced=synced)

        self._recorder.record(raised, synced=synced, write=write, then=after)

    def _emit(self, events: Sequence[AlarmEvent], *, synced: bool = True) -> None:
        """``synced=False`` for what readings raised (``envmon.alarms.recorder``)."""
        if events:
            self._recorder.record(events, synced=synced)

    def _write_limits(self, now_ns: int, first_room: int) -> int | None:
        """The limits in force per room and measured parameter, for Grafana's limit
        lines, ``LIMITS_ROOMS_PER_SLICE`` rooms from ``first_room`` on; returns where
        the next slice starts, None when done."""
        facility = self.engine.facility
        if self._limits_points is None or self._limits_points.facility is not facility:
            self._limits_points = LimitsPoints(facility)
        rooms = facility.model.rooms[first_room : first_room + LIMITS_ROOMS_PER_SLICE]
        lines = self._limits_points.lines(
            rooms, lambda room: self.engine.room_state(room, now_ns), self.engine.limits, now_ns
        )
        self._store.submit_lines(list(lines))
        next_room = first_room + LIMITS_ROOMS_PER_SLICE
        return next_room if next_room < len(facility.model.rooms) else None

    def _reload(self, facility: Facility) -> None:
        self.engine.replace_facility(facility)
        self.engine.prime()
        frozen, took_s = freeze_long_lived()
        log.info("reload: %d long-lived objects re-frozen in %.3f s", frozen, took_s)
        self._turns.put(WriteLimits(self._clock.wall_ns()))

    def _apply_signed(self, request: SignedRequest) -> None:
        """Apply a person's signed act; its events are journaled and announced before its
        outcome, so the command waiting on the outcome sees the retained topic updated."""
        finishing = self._finishing.get(request.id)
        if finishing is not None:
            # Applied already, the outcome not journaled: the poll asks again.
            if not self._recorder.holding:
                finishing()
            return
        if self._journal.requests.outcome(request.id) is not None:
            return  # the poll queued it twice while it waited
        try:
            applied = apply_request(
                self.engine, request, self._clock.wall_ns(), self.service_states
            )
        except EnvmonError as exc:
            self._journal.requests.finish(request.id, str(exc))
            return
        finish = self._finishing[request.id] = lambda: self._finish_signed(request, applied)
        if applied.room_state is not None:
            self._room_state(applied.room_state, synced=True, events=applied.events, then=finish)
        else:
            self._recorder.record(applied.events, synced=True, then=finish)

    def _finish_signed(self, request: SignedRequest, applied: Applied) -> None:
        """Journal a signed act's outcome, once its events are on record."""
        if applied.batch is not None:
            by = BatchBy.signed(request.signature, request.signature_seq, request.id)
            rooms = self.engine.facility.rooms
            recorded = record_signed_batch(self._journal, applied.batch, by, rooms, request.id)
        else:
            self._journal.requests.finish(request.id, OUTCOME_OK)
            recorded = True
        del self._finishing[request.id]
        if not recorded:
            return
        if applied.service_changed:
            # The finish entry is what opens or closes the period: read it back.
            self.service_states = self._journal.requests.service_states()
            self.engine.set_service_states(self.service_states)
            self._on_service_states(self.service_states)
        if applied.calibration_changed:
            # A record counts once its outcome is journaled: read them all back.
            self._on_calibration(self._journal.calibration.records())
        signature = request.signature
        log.info(
            "signed %s of %s by %s (%s; OS user %s, %s): %s",
            request.act,
            request.subject,
            signature.user,
            signature.meaning,
            signature.os_user,
            signature.client,
            signature.comment,
        )
