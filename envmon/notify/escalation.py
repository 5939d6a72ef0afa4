"""Escalation: action alarms nobody acknowledged in time go to a second list."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from envmon.alarms.events import Alarm, AlarmEvent, AlarmState, Level, Transition
from envmon.readings import NS_PER_S

UNACKED: Final = frozenset({AlarmState.ACTIVE_UNACKED, AlarmState.CLEARED_UNACKED})


def due_escalations(
    open_alarms: Iterable[Alarm], now_ns: int, after_s: float, already: set[str]
) -> list[AlarmEvent]:
    """One ESCALATED event (at ``now_ns``) per action alarm still unacknowledged
    ``after_s`` after it was raised, unless its id is in ``already``.

    Pure: the caller adds the returned alarms' ids to ``already`` (and restores
    it after a restart from ``Journal.escalated_alarm_ids``), so each alarm
    escalates once.
    """
    after_ns = round(after_s * NS_PER_S)
    return [
        AlarmEvent(Transition.ESCALATED, alarm, now_ns)
        for alarm in open_alarms
        if alarm.level is Level.ACTION
        and alarm.state in UNACKED
        and now_ns - alarm.raised_ns >= after_ns
        and alarm.id not in already
    ]
