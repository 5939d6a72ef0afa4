"""The ANSI/ISA-18.2 lifecycle of one alarm, and the book of open alarms.

``active_unacked`` → ack → ``active_acked`` → return to normal → ``closed``;
``active_unacked`` → return to normal → ``cleared_unacked`` → ack → ``closed``.
An alarm latches: back to normal it stays open until acknowledged. A
transition that ends in ``closed`` is followed by a ``CLOSED`` event, so a
consumer that only cares when an alarm's life is over listens for that.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final, Protocol

from envmon.alarms.errors import AckRefused, AlarmAlreadyAcked, AlarmAlreadyClosed, UnknownAlarm
from envmon.alarms.events import Alarm, AlarmEvent, AlarmState, Excursion, Level, Transition
from envmon.readings import isoformat_ns

ALARM_ID_HEX_DIGITS: Final = 10
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
    """The condition ended: ``CLEARED`` (and ``CLOSED`` if already acknowledged)."""
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


def acknowledge(alarm: Alarm, user: str, comment: str, at_ns: int) -> list[AlarmEvent]:
    """``ACKED`` (and ``CLOSED`` if it had returned to normal); raises ``AckRefused``."""
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
    acked = {"acked_by": user, "acked_ns": at_ns, "comment": comment}
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
    """Open alarms by id (the latest state of each), and recently closed ones."""

    __slots__ = ("_closed", "_live", "_open")

    def __init__(self) -> None:
        self._open: dict[str, Alarm] = {}
        self._closed: dict[str, Alarm] = {}
        self._live: dict[str, LiveExcursion] = {}

    def record(self, events: list[AlarmEvent]) -> None:
        """Take the state after each event."""
        for event in events:
            alarm = event.alarm
            if alarm.state is AlarmState.CLOSED:
                self._open.pop(alarm.id, None)
                self._live.pop(alarm.id, None)
                self._closed[alarm.id] = alarm
                if len(self._closed) > _REMEMBERED_CLOSED:
                    del self._closed[next(iter(self._closed))]
            else:
                self._open[alarm.id] = alarm

    def restore(self, alarm: Alarm) -> None:
        """An open alarm from the journal, taken as it is."""
        self._open[alarm.id] = alarm

    def track(self, alarm_id: str, live: LiveExcursion) -> None:
        """While active, the alarm's peak and sample count are read from ``live``."""
        self._live[alarm_id] = live

    def untrack(self, alarm_id: str) -> None:
        self._live.pop(alarm_id, None)

    def get(self, alarm_id: str) -> Alarm | None:
        """The open alarm with its live peak and samples, or None."""
        alarm = self._open.get(alarm_id)
        live = self._live.get(alarm_id)
        if alarm is None or live is None:
            return alarm
        return alarm.with_(peak=live.peak, samples=live.samples)

    def ack(self, alarm_id: str, user: str, comment: str, at_ns: int) -> list[AlarmEvent]:
        alarm = self.get(alarm_id)
        if alarm is None:
            closed = self._closed.get(alarm_id)
            if closed is not None:
                return acknowledge(closed, user, comment, at_ns)  # raises AlarmAlreadyClosed
            raise UnknownAlarm(f"no open alarm {alarm_id!r} (envmon alarms lists them)")
        events = acknowledge(alarm, user, comment, at_ns)
        self.record(events)
        return events

    def open_alarms(self) -> list[Alarm]:
        """Open alarms, oldest first."""
        alarms = [self.get(alarm_id) for alarm_id in self._open]
        return sorted((a for a in alarms if a is not None), key=lambda a: (a.raised_ns, a.id))
