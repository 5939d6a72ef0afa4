"""The ANSI/ISA-18.2 lifecycle of one alarm, and the book of open alarms.

``active_unacked`` → ack → ``active_acked`` → return to normal → ``closed``;
``active_unacked`` → return to normal → ``cleared_unacked`` → ack → ``closed``.
An alarm latches: back to normal it stays open until acknowledged. A
transition that ends in ``closed`` is followed by a ``CLOSED`` event, so a
consumer that only cares when an alarm's life is over listens for that.

A shelved alarm (``shelving.py``) keeps its lifecycle underneath: it can
return to normal while shelved, and is closed only once unshelved.
"""

from __future__ import annotations

import hashlib
from operator import attrgetter
from typing import Any, Final, Protocol

from envmon.alarms.errors import (
    AckRefused,
    AlarmAlreadyAcked,
    AlarmAlreadyClosed,
    AlarmShelved,
    UnknownAlarm,
)
from envmon.alarms.events import Alarm, AlarmEvent, AlarmState, Excursion, Level, Transition
from envmon.alarms.shelving import expire, shelve, unshelve
from envmon.readings import isoformat_ns
from envmon.signing.signature import Signature

ALARM_ID_HEX_DIGITS: Final = 10
_OLDEST_FIRST: Final = attrgetter("raised_ns", "id")
_REMEMBERED_CLOSED: Final = 10_000


def make_alarm_id(
    site: str, room: str, sensor: str, parameter: str, level: Level, raised_ns: int
) -> str:
    """Short and deterministic, so a replayed stream yields the same ids; humans type it."""
    key = "\x1f".join((site, room, sensor, parameter, level.value, str(raised_ns)))
    return hashlib.sha256(key.encode()).hexdigest()[:ALARM_ID_HEX_DIGITS]


def return_to_normal(
    alarm: Alarm, at_ns: int, excursion: Excursion | None = None, **changes: Any
) -> list[AlarmEvent]:
    """The condition ended: ``CLEARED`` (and ``CLOSED`` if already acknowledged;
    a shelved alarm stays shelved, closed underneath)."""
    if alarm.state is AlarmState.SHELVED:
        underneath = {
            AlarmState.ACTIVE_UNACKED: AlarmState.CLEARED_UNACKED,
            AlarmState.ACTIVE_ACKED: AlarmState.CLOSED,
        }.get(alarm.lifecycle_state)
        if underneath is None:
            return []
        after = alarm.with_(underlying_state=underneath, cleared_ns=at_ns, **changes)
        return [AlarmEvent(Transition.CLEARED, after, at_ns, excursion)]
    if alarm.state is AlarmState.ACTIVE_UNACKED:
        after = alarm.with_(state=AlarmState.CLEARED_UNACKED, cleared_ns=at_ns, **changes)
        return [AlarmEvent(Transition.CLEARED, after, at_ns, excursion)]
    if alarm.state is AlarmState.ACTIVE_ACKED:
        after = alarm.with_(state=AlarmState.CLOSED, cleared_ns=at_ns, **changes)
        return [
            AlarmEvent(Transition.CLEARED, after, at_ns, excursion),
            AlarmEvent(Transition.CLOSED, after, at_ns),
        ]
    return []


def acknowledge(
    alarm: Alarm, user: str, comment: str, at_ns: int, signature: Signature | None = None
) -> list[AlarmEvent]:
    """``ACKED`` (and ``CLOSED`` if it had returned to normal); raises ``AckRefused``.

    With a ``signature``, the acknowledgement is that signature's: ``acked_by``
    its user, ``acked_ns`` its ``signed_ns``, ``comment`` its comment, and it
    is appended to ``signatures``; ``user``, ``comment`` and ``at_ns`` give the
    event's time only.
    """
    if signature is not None:
        user, comment = signature.user, signature.comment
    if not user.strip():
        raise AckRefused(f"alarm {alarm.id}: an acknowledgement needs a user name")
    if not comment.strip():
        raise AckRefused(f"alarm {alarm.id}: an acknowledgement needs a comment")
    if alarm.state is AlarmState.CLOSED:
        by = _acked_by(alarm)
        raise AlarmAlreadyClosed(
            f"alarm {alarm.id} is already closed" + (f" (acknowledged{by})" if by else "")
        )
    if alarm.state is AlarmState.ACTIVE_ACKED:
        raise AlarmAlreadyAcked(f"alarm {alarm.id} was already acknowledged{_acked_by(alarm)}")
    if alarm.state is AlarmState.SHELVED:
        raise AlarmShelved(f"alarm {alarm.id} is shelved: unshelve it before acknowledging")
    acked: dict[str, Any] = {"acked_by": user, "acked_ns": at_ns, "comment": comment}
    if signature is not None:
        acked["acked_ns"] = signature.signed_ns
        acked["signatures"] = (*alarm.signatures, signature)
    if alarm.state is AlarmState.ACTIVE_UNACKED:
        after = alarm.with_(state=AlarmState.ACTIVE_ACKED, **acked)
        return [AlarmEvent(Transition.ACKED, after, at_ns)]
    after = alarm.with_(state=AlarmState.CLOSED, **acked)
    return [AlarmEvent(Transition.ACKED, after, at_ns), AlarmEvent(Transition.CLOSED, after, at_ns)]


def _acked_by(alarm: Alarm) -> str:
    if alarm.acked_by is None or alarm.acked_ns is None:
        return ""
    return f" by {alarm.acked_by} at {isoformat_ns(alarm.acked_ns)}"


class LiveExcursion(Protocol):
    """What the book reads from a detector to show an active alarm's progress."""

    peak: float
    samples: int


class AlarmBook:
    """Open alarms by id (the latest state of each), and recently closed ones.

    How many open alarms are active, and which are shelved, are kept as the
    alarms change: after a network outage a site has an open comm-loss alarm
    per sensor, and the count is asked after every transition and the shelved
    ones every second; neither may cost a pass over thousands of alarms.
    """

    __slots__ = ("_active", "_closed", "_live", "_open", "_shelved")

    def __init__(self) -> None:
        self._open: dict[str, Alarm] = {}
        self._closed: dict[str, Alarm] = {}
        self._live: dict[str, LiveExcursion] = {}
        self._active = 0
        self._shelved: set[str] = set()

    def record(self, events: list[AlarmEvent]) -> None:
        """Take the state after each event."""
        for event in events:
            alarm = event.alarm
            if alarm.state is AlarmState.CLOSED:
                self._set_open(alarm.id, None)
                self._live.pop(alarm.id, None)
                self._closed[alarm.id] = alarm
                if len(self._closed) > _REMEMBERED_CLOSED:
                    del self._closed[next(iter(self._closed))]
            else:
                self._set_open(alarm.id, alarm)

    def restore(self, alarm: Alarm) -> None:
        """An open alarm from the journal, taken as it is."""
        self._set_open(alarm.id, alarm)

    def _set_open(self, alarm_id: str, alarm: Alarm | None) -> None:
        """``alarm`` as the open alarm ``alarm_id`` (None: no longer open)."""
        old = self._open.get(alarm_id)
        if old is not None:
            self._active -= old.active
            self._shelved.discard(alarm_id)
        if alarm is None:
            self._open.pop(alarm_id, None)
            return
        self._open[alarm_id] = alarm
        self._active += alarm.active
        if alarm.shelved:
            self._shelved.add(alarm_id)

    def track(self, alarm_id: str, live: LiveExcursion) -> None:
        """While active, the alarm's peak and sample count are read from ``live``."""
        self._live[alarm_id] = live

    def untrack(self, alarm_id: str) -> None:
        self._live.pop(alarm_id, None)

    def get(self, alarm_id: str) -> Alarm | None:
        """The open alarm with its live peak and samples, or None."""
        alarm = self._open.get(alarm_id)
        if alarm is None:
            return None
        return self._with_live(alarm)

    def _with_live(self, alarm: Alarm) -> Alarm:
        live = self._live.get(alarm.id)
        if live is None:
            return alarm
        return alarm.with_(peak=live.peak, samples=live.samples)

    def ack(
        self,
        alarm_id: str,
        user: str,
        comment: str,
        at_ns: int,
        signature: Signature | None = None,
    ) -> list[AlarmEvent]:
        events = acknowledge(self._open_alarm(alarm_id), user, comment, at_ns, signature)
        self.record(events)
        return events

    def shelve(
        self, alarm_id: str, signature: Signature, until_ns: int, at_ns: int
    ) -> list[AlarmEvent]:
        events = shelve(self._open_alarm(alarm_id), signature, until_ns, at_ns)
        self.record(events)
        return events

    def unshelve(self, alarm_id: str, signature: Signature, at_ns: int) -> list[AlarmEvent]:
        events = unshelve(self._open_alarm(alarm_id), at_ns, signature)
        self.record(events)
        return events

    def expire_shelved(self, now_ns: int) -> list[AlarmEvent]:
        """Unshelve every alarm whose shelving ended by ``now_ns``, oldest first."""
        events: list[AlarmEvent] = []
        for alarm in sorted((self._open[i] for i in self._shelved), key=_OLDEST_FIRST):
            found = expire(self._with_live(alarm), now_ns)
            self.record(found)
            events += found
        return events

    def _open_alarm(self, alarm_id: str) -> Alarm:
        """The open alarm, or a closed one (every act refuses it, naming who closed it)."""
        alarm = self.get(alarm_id) or self._closed.get(alarm_id)
        if alarm is None:
            raise UnknownAlarm(f"no open alarm {alarm_id!r} (envmon alarms lists them)")
        return alarm

    def active_count(self) -> int:
        """How many open alarms are active."""
        return self._active

    def open_alarms(self) -> list[Alarm]:
        """Open alarms, oldest first."""
        return [self._with_live(a) for a in sorted(self._open.values(), key=_OLDEST_FIRST)]
