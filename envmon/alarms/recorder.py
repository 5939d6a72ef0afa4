"""The alarm worker's transitions on their way out: the journal, then the outputs, in order.

- What a reading raises is announced on its retained topic at once, committed
  without waiting for the disk (its reading stays unacknowledged until the
  journal is on disk, see ``envmon.alarms.worker``), then sent to the rest.
- What a command raises (a sensor gone silent, an escalation, a signed act) is
  on disk before it is announced or sent: it has no reading to be redelivered.

Why a reading's alarm may be announced before the journal has it: until the
journal is on disk its reading stays unacknowledged. If envmon dies or the
machine loses power first, the broker delivers the reading again and the
engine raises the same alarm again (its id comes from the reading), journals
it and announces it once more. A command's alarm has no such second chance,
and neither have people's channels (an email cannot be taken back): they
wait for the record.

When the journal refuses a write, the events are held, in order, with the
record of what raised them (a room state, an MES batch message) and what was
to follow their record (a signed act's outcome), and everything raised after
them waits behind them: announced only once recorded, so that a retained
topic never goes back to an older state. Each later write, and every checkpoint, tries the
held events first, so no reading is released before what it raised is on
record. A signed act stays pending until its events are written, and is
finished then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from envmon.alarms.engine import AlarmEngine
from envmon.alarms.events import AlarmEvent
from envmon.errors import EnvmonError
from envmon.journal.journal import Journal

log = logging.getLogger("envmon.alarms")


class AlarmOutputs(Protocol):
    def announce(self, events: Sequence[AlarmEvent]) -> None:
        """The retained alarm topic, which alarm panels watch."""

    def send(self, events: Sequence[AlarmEvent]) -> None:
        """The rest, after the journal: InfluxDB, the log, people's channels."""


@dataclass(slots=True)
class _Held:
    events: Sequence[AlarmEvent]
    announced: bool
    synced: bool
    then: Callable[[], None] | None
    write: Callable[[], None] | None


class EventRecorder:
    """Journals and tells the engine's events for the alarm worker (its thread only)."""

    def __init__(
        self,
        engine: AlarmEngine,
        journal: Journal,
        outputs: AlarmOutputs,
        on_active_count: Callable[[int], None],
    ) -> None:
        self._engine = engine
        self._journal = journal
        self._outputs = outputs
        self._on_active_count = on_active_count
        self._held: list[_Held] = []

    @property
    def holding(self) -> bool:
        """Whether events wait for the journal."""
        return bool(self._held)

    def record(
        self,
        events: Sequence[AlarmEvent],
        *,
        synced: bool,
        then: Callable[[], None] | None = None,
        write: Callable[[], None] | None = None,
    ) -> bool:
        """Journal with ``write`` what raised them (a room state, an MQTT batch
        message: one transaction, raising ``EnvmonError`` when refused), then
        ``events`` with the engine's checkpoint; tell them and run ``then``.
        ``synced=False`` for what a reading raised. False when the journal refused:
        everything is held and ``flush`` retries it."""
        if not events and write is None and not self._held:
            if then is not None:
                _run(then)
            return True
        announce_now = not synced and not self._held
        if announce_now and events:
            self._outputs.announce(events)
        self._held.append(_Held(events, announce_now, synced, then, write))
        return self.flush()

    def flush(self) -> bool:
        """Journal what is held and tell it; False while the journal refuses.

        The held events go in one transaction with the engine's checkpoint, after
        the held records that raised some of them: a room state held behind a
        refused alarm is journaled just before it (each entry has its own time)."""
        if not self._held:
            return True
        held = self._held
        events = [event for entry in held for event in entry.events]
        try:
            for entry in held:
                if entry.write is not None:
                    _write_once(entry)
            self.record_transients(synced=False)
            self._journal.record_events(
                events,
                checkpoint=self._engine.checkpoint(),
                synced=any(entry.synced for entry in held),
            )
        except EnvmonError as exc:
            self._engine.checkpoint_lost()
            other = sum(entry.write is not None for entry in held)
            what = f"{len(events)} alarm events" + (f", {other} other records" if other else "")
            log.error("%s not journaled, readings held back: %s", what, exc)
            return False
        self._held = []
        for entry in held:
            if entry.events:
                if not entry.announced:
                    self._outputs.announce(entry.events)
                self._outputs.send(entry.events)
            if entry.then is not None:
                _run(entry.then)
        self._on_active_count(self._engine.active_count())
        return True

    def record_transients(self, *, synced: bool) -> None:
        """Journal the transients that ended; before any checkpoint that covers their
        readings, so a crash cannot lose one (the journal skips one seen again).
        Never notified, never on a topic: they are for the batch record."""
        pending = self._engine.transients
        if pending:
            self._journal.record_transients(pending, synced=synced)
            pending.clear()  # only once written: a failed write keeps them for the next


def _write_once(entry: _Held) -> None:
    """Not again once written, when only the events after it are refused."""
    assert entry.write is not None
    try:
        entry.write()
    except EnvmonError:
        raise
    except Exception:
        # A bug, not a refusal: retrying would hold every reading back for good.
        log.exception("alarm worker: a journal write failed (not retried)")
    entry.write = None


def _run(then: Callable[[], None]) -> None:
    try:
        then()
    except Exception:
        # What follows a record (a signed act's outcome) must not cost the events
        # after it their outputs; the act's request is retried by the poll.
        log.exception("alarm worker failed after journaling events")
