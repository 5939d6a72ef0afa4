"""Alarm types shared by the engine, the journal, notifiers and reports.

An ``Alarm`` is the ISA-18.2 record of one alarm; every change of it is an
``AlarmEvent``. ``Alarm.to_json`` is the contract object of ``envmon alarms
--json`` and of the retained ``<prefix>/<site>/envmon/alarms/<room>/<parameter>``
(``.../<room>/<equipment>/<parameter>`` on equipment) topic (design.md
sections 6 and 11).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from envmon.readings import isoformat_ns
from envmon.signing.signature import Signature


class Level(StrEnum):
    """Severity, lowest first: an action alarm supersedes an alert on the same channel."""

    ALERT = "alert"
    ACTION = "action"
    FAULT = "fault"
    COMM_LOSS = "comm_loss"
    CALIBRATION = "calibration"
    """A sensor past its calibration due date (and calibration reminders)."""


class Rule(StrEnum):
    """Which rule of a channel raised a limit alarm (``Alarm.rule``)."""

    LIMIT = "limit"
    """The value beyond an alert or action limit."""
    RATE = "rate"
    """The value changing faster than a rate limit per minute (``alarms/rules.py``)."""


class AlarmState(StrEnum):
    """ANSI/ISA-18.2 alarm states."""

    ACTIVE_UNACKED = "active_unacked"
    """The condition holds and nobody has acknowledged it yet."""
    ACTIVE_ACKED = "active_acked"
    """The condition still holds; an engineer has acknowledged it."""
    CLEARED_UNACKED = "cleared_unacked"
    """Back to normal, but latched until someone acknowledges it."""
    CLOSED = "closed"
    """Back to normal and acknowledged: the alarm's life is over."""
    SHELVED = "shelved"
    """Set aside by a signed shelving until ``shelved_until``: recorded and
    published, not notified; its lifecycle goes on underneath."""


class Transition(StrEnum):
    """What happened to an alarm; each is one journal entry and one notification."""

    RAISED = "raised"
    CLEARED = "cleared"
    ACKED = "acked"
    CLOSED = "closed"
    ESCALATED = "escalated"
    """Unacknowledged past ``notify.escalate_after_s``: sent to the escalation list."""
    SHELVED = "shelved"
    UNSHELVED = "unshelved"
    """Shelving ended, by a signed unshelve or at ``shelved_until``."""
    REMINDER = "reminder"
    """A calibration falls due soon (``envmon.calibration``): notified, never journaled
    as an alarm; its alarm record is ``closed`` (nothing to acknowledge)."""


@dataclass(frozen=True, slots=True)
class Alarm:
    """One alarm. Times are UTC nanoseconds; ``peak`` is the most extreme value so far.

    ``equipment`` is set for a sensor on equipment. ``rule`` is ``limit`` or
    ``rate`` for alert and action alarms (None for sensor alarms); for a rate
    alarm ``value``, ``peak`` and ``limit`` are changes per minute.
    """

    id: str
    site: str
    room: str
    sensor: str
    parameter: str
    level: Level
    state: AlarmState
    raised_ns: int
    limit: float | None = None
    peak: float | None = None
    value: float | None = None
    room_state: str | None = None
    samples: int = 0
    cleared_ns: int | None = None
    acked_by: str | None = None
    acked_ns: int | None = None
    comment: str | None = None
    detail: str = ""
    equipment: str | None = None
    rule: str | None = None
    signatures: tuple[Signature, ...] = ()
    """Every signature on this alarm, in order (ack, shelve, unshelve)."""
    shelved_until_ns: int | None = None
    underlying_state: AlarmState | None = None
    """While shelved: the state the alarm would be in otherwise, kept up to
    date; it returns to this state when unshelved. None otherwise."""

    @property
    def lifecycle_state(self) -> AlarmState:
        """The ISA-18.2 state, looking through shelving."""
        return self.underlying_state if self.underlying_state is not None else self.state

    @property
    def active(self) -> bool:
        """The condition still holds (shelved or not)."""
        return self.lifecycle_state in (AlarmState.ACTIVE_UNACKED, AlarmState.ACTIVE_ACKED)

    @property
    def shelved(self) -> bool:
        return self.state is AlarmState.SHELVED

    @property
    def open(self) -> bool:
        """Not yet closed: either still active or latched awaiting acknowledgement."""
        return self.state is not AlarmState.CLOSED

    def with_(self, **changes: Any) -> Alarm:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """The contract object (design.md section 6), plus a few extra keys."""
        return {
            "id": self.id,
            "site": self.site,
            "room": self.room,
            "equipment": self.equipment,
            "sensor": self.sensor,
            "parameter": self.parameter,
            "level": self.level.value,
            "rule": self.rule,
            "state": self.state.value,
            "raised_at": isoformat_ns(self.raised_ns),
            "cleared_at": isoformat_ns(self.cleared_ns) if self.cleared_ns is not None else None,
            "acked_by": self.acked_by,
            "acked_at": isoformat_ns(self.acked_ns) if self.acked_ns is not None else None,
            "comment": self.comment,
            "peak": self.peak,
            "limit": self.limit,
            "value": self.value,
            "room_state": self.room_state,
            "samples": self.samples,
            "detail": self.detail,
            "signatures": [sig.to_json() for sig in self.signatures],
            "shelved_until": (
                isoformat_ns(self.shelved_until_ns) if self.shelved_until_ns is not None else None
            ),
        }


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """One transition of one alarm, at ``at_ns`` (event time, or wall time for
    comm loss, acks and escalation); ``alarm`` is the state after it."""

    transition: Transition
    alarm: Alarm
    at_ns: int
    excursion: Excursion | None = None
    """Set on RAISED (open excursion) and CLEARED (closed) of limit alarms."""


@dataclass(frozen=True, slots=True)
class Excursion:
    """A span beyond a level that met the level's delay or persistence rule.

    Starts at the first reading beyond the limit, ends at the first reading back
    within it (deadband applied); ``end_ns`` is None while it lasts. For a rate
    excursion (``rule`` ``rate``) ``peak`` and ``limit`` are changes per minute.
    """

    id: str
    alarm_id: str
    site: str
    room: str
    sensor: str
    parameter: str
    level: Level
    start_ns: int
    end_ns: int | None
    peak: float
    limit: float
    room_state: str
    samples: int
    equipment: str | None = None
    rule: str = Rule.LIMIT.value

    @property
    def duration_s(self) -> float | None:
        return None if self.end_ns is None else (self.end_ns - self.start_ns) / 1e9


@dataclass(frozen=True, slots=True)
class Transient:
    """A span beyond a level that ended before meeting the level's delay or persistence
    rule (design.md section 10): no excursion, no alarm, never notified; journaled.

    ``start_ns`` is the first reading beyond, ``end_ns`` the first back within (event
    time); ``peak`` the most extreme value (the maximum beyond a high limit, the
    minimum beyond a low one); ``limit`` the one in force when it began; ``side``
    ``high`` or ``low``.
    """

    site: str
    room: str
    equipment: str | None
    sensor: str
    parameter: str
    level: Level
    side: str
    start_ns: int
    end_ns: int
    peak: float
    samples: int
    limit: float

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9
