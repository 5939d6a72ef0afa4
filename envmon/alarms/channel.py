"""The state machine of one channel: one parameter of one sensor in one room.

A channel runs four ``LevelDetector``s on event time — alert and action, high
and low — each with its own alarm and excursion, all judged on every reading:
an action alarm is raised on top of an alert one, and on the way down the
action alarm clears while the alert one may stay. A reading not newer than the
last one the channel saw (broker redelivery, out of order) changes nothing.
The limits in force are those of the room state at the reading's timestamp;
with ``window_s`` the value judged is the rolling-window concentration. When
a rate limit is set (in any room state), a ``RateOfChange`` judges the rate
too (``rules.py`` defines it), with alarm slots 4 (rise) and 5 (fall).
A run beyond a limit that ends before meeting the rules is a ``Transient``,
appended to the channel's ``transients`` list (the engine's, shared by all its
channels); the rate rule has none. What a restart checkpoint keeps of a channel,
and how it continues from one, is ``channel_state.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from envmon.alarms.events import (
    Alarm,
    AlarmEvent,
    AlarmState,
    Excursion,
    Level,
    Rule,
    Transient,
    Transition,
)
from envmon.alarms.lifecycle import AlarmBook, make_alarm_id, return_to_normal
from envmon.alarms.rules import CLEAR, RAISE, TRANSIENT, LevelDetector, RateOfChange
from envmon.alarms.state_rules import StateRules, rules_for
from envmon.alarms.window import RollingWindow
from envmon.gmp import LIMIT_KEYS, RATE_KEYS, ResolvedLimits
from envmon.readings import RoomState, StateInForce

# Detector order; aligned with gmp.LIMIT_KEYS (alert_high, action_high, alert_low, action_low).
LEVELS: Final = (Level.ALERT, Level.ACTION, Level.ALERT, Level.ACTION)
HIGH_SIDE: Final = (True, True, False, False)
RATE_RISE: Final = 4
"""Alarm slot of the rate rule's rise (``rate_per_min_high``); the fall is ``RATE_RISE + 1``."""
RATE_LEVEL: Final = Level.ALERT
_NO_EVENTS: Final[Sequence[AlarmEvent]] = ()


class Channel:
    """Excursion detection and alarms of one (room, sensor, parameter)."""

    __slots__ = (
        "alarm_ids",
        "detectors",
        "equipment",
        "keep_ns",
        "key",
        "last_ts_ns",
        "parameter",
        "rate",
        "room",
        "rules",
        "saved_idle",
        "sensor",
        "site",
        "transients",
        "window",
    )

    def __init__(
        self,
        site: str,
        room: str,
        sensor: str,
        parameter: str,
        limits_by_state: Mapping[RoomState, ResolvedLimits],
        equipment: str | None = None,
        transients: list[Transient] | None = None,
    ) -> None:
        self.site, self.room, self.sensor, self.parameter = site, room, sensor, parameter
        self.transients: list[Transient] = transients if transients is not None else []
        """Where ended transients go; whoever owns the list takes them from it."""
        self.equipment = equipment
        self.key = f"{room}/{sensor}/{parameter}"
        """The channel's name in checkpoints."""
        self.saved_idle = True
        """Whether the last checkpoint of this channel (or none: a new channel) is idle
        (``channel_state.checkpoint_json``)."""
        self.last_ts_ns = -1
        self.alarm_ids: list[str | None] = [None] * 6
        self.detectors = tuple(LevelDetector(high) for high in HIGH_SIDE)
        self.rate: RateOfChange | None = None
        self.rules: Mapping[StateInForce, StateRules] = {}
        self.window: RollingWindow | None = None
        self.keep_ns = 0
        self.set_limits(limits_by_state)

    def set_limits(self, limits_by_state: Mapping[RoomState, ResolvedLimits]) -> None:
        """New limits (start or reload); excursions in progress continue under them."""
        self.rules = rules_for(limits_by_state)
        history_len = max(r.persistence.m for r in self.rules.values())
        for detector in self.detectors:
            detector.resize_history(history_len)
        if any(r.has_rate for r in self.rules.values()):
            if self.rate is None:
                self.rate = RateOfChange(history_len)
            self.rate.rise.resize_history(history_len)
            self.rate.fall.resize_history(history_len)
        elif self.rate is not None and self.rate.idle():
            self.rate = None  # an active rate alarm keeps it: its next reading clears it
        self.keep_ns = max(r.window_ns for r in self.rules.values())
        if self.keep_ns == 0:
            self.window = None
        elif self.window is None:
            self.window = RollingWindow()

    def observe(
        self,
        value: float,
        volume_l: float | None,
        ts_ns: int,
        state: StateInForce,
        book: AlarmBook,
    ) -> Sequence[AlarmEvent]:
        """Judge one reading taken in state ``state`` (in force); returns the alarm events."""
        if ts_ns <= self.last_ts_ns:
            return _NO_EVENTS
        self.last_ts_ns = ts_ns
        rules = self.rules[state]
        rate = self.rate
        rate_events = (
            self._observe_rate(rate, value, ts_ns, rules, state, book) if rate is not None else None
        )
        if self.window is not None:
            self.window.add(ts_ns, value, volume_l, self.keep_ns)
            if rules.window_ns:
                value = self.window.concentration(ts_ns, rules.window_ns)
        limits = rules.limits
        persistence = rules.persistence
        events: list[AlarmEvent] | None = None
        for i, detector in enumerate(self.detectors):
            limit = limits[i]
            if limit is None and not detector.active and detector.run_count == 0:
                continue
            outcome = detector.observe(value, ts_ns, limit, persistence, state)
            if outcome:
                if events is None:
                    events = []
                if outcome == RAISE:
                    events.extend(self._raise(i, value, ts_ns, rules, book))
                elif outcome == CLEAR:
                    events.extend(self._clear(i, value, ts_ns, book))
                elif outcome == TRANSIENT:
                    self.transients.append(self._transient(i, detector, ts_ns))
        if rate_events:
            return (events or []) + rate_events
        return events if events is not None else _NO_EVENTS

    def _observe_rate(
        self,
        rate: RateOfChange,
        value: float,
        ts_ns: int,
        rules: StateRules,
        state: StateInForce,
        book: AlarmBook,
    ) -> list[AlarmEvent]:
        per_min, rise, fall = rate.observe(
            value, ts_ns, rules.rate_high, rules.rate_low, rules.rate_persistence, state
        )
        if per_min is None or not (rise or fall):
            return []
        events: list[AlarmEvent] = []
        for i, outcome in ((RATE_RISE, rise), (RATE_RISE + 1, fall)):
            if outcome == RAISE:
                events.extend(self._raise(i, per_min, ts_ns, rules, book))
            elif outcome == CLEAR:
                events.extend(self._clear(i, per_min, ts_ns, book))
        return events

    def slot_detector(self, i: int) -> LevelDetector:
        """Slots 0-3: the limit detectors; 4 and 5: the rate rule's rise and fall."""
        if i < RATE_RISE:
            return self.detectors[i]
        assert self.rate is not None
        return self.rate.rise if i == RATE_RISE else self.rate.fall

    def _detail(self, i: int, limit: float, rules: StateRules) -> str:
        if i >= RATE_RISE:
            high = i == RATE_RISE
            key = RATE_KEYS[0] if high else RATE_KEYS[1]
            return f"rate {'above' if high else 'below'} {key} {limit:g} per min"
        detail = f"{'above' if HIGH_SIDE[i] else 'below'} {LIMIT_KEYS[i]} {limit:g}"
        if rules.window_s:
            detail += f" (rolling {rules.window_s:g} s concentration)"
        return detail

    def _raise(
        self, i: int, value: float, ts_ns: int, rules: StateRules, book: AlarmBook
    ) -> list[AlarmEvent]:
        detector = self.slot_detector(i)
        level = _level(i)
        alarm_id = make_alarm_id(self.site, self.room, self.sensor, self.parameter, level, ts_ns)
        alarm = Alarm(
            id=alarm_id,
            site=self.site,
            room=self.room,
            sensor=self.sensor,
            parameter=self.parameter,
            level=level,
            state=AlarmState.ACTIVE_UNACKED,
            raised_ns=ts_ns,
            limit=detector.limit,
            peak=detector.peak,
            value=value,
            room_state=detector.start_state.value,
            samples=detector.samples,
            detail=self._detail(i, detector.limit, rules),
            equipment=self.equipment,
            rule=_rule(i).value,
        )
        events = [AlarmEvent(Transition.RAISED, alarm, ts_ns, self._excursion(i, alarm_id, None))]
        self.alarm_ids[i] = alarm_id
        book.record(events)
        book.track(alarm_id, detector)
        return events

    def _clear(self, i: int, value: float, ts_ns: int, book: AlarmBook) -> list[AlarmEvent]:
        alarm_id = self.alarm_ids[i]
        self.alarm_ids[i] = None
        if alarm_id is None:
            return []
        book.untrack(alarm_id)
        alarm = book.get(alarm_id)
        if alarm is None:
            return []
        detector = self.slot_detector(i)
        events = return_to_normal(
            alarm,
            ts_ns,
            self._excursion(i, alarm_id, ts_ns),
            value=value,
            peak=detector.peak,
            samples=detector.samples,
        )
        book.record(events)
        return events

    def _transient(self, i: int, detector: LevelDetector, end_ns: int) -> Transient:
        return Transient(
            site=self.site,
            room=self.room,
            equipment=self.equipment,
            sensor=self.sensor,
            parameter=self.parameter,
            level=LEVELS[i],
            side="high" if HIGH_SIDE[i] else "low",
            start_ns=detector.run_start_ns,
            end_ns=end_ns,
            peak=detector.run_peak,
            samples=detector.ended_run_samples,
            limit=detector.run_limit,
        )

    def _excursion(self, i: int, alarm_id: str, end_ns: int | None) -> Excursion:
        """The excursion of alarm ``alarm_id``; it carries the alarm's id."""
        detector = self.slot_detector(i)
        return Excursion(
            id=alarm_id,
            alarm_id=alarm_id,
            site=self.site,
            room=self.room,
            sensor=self.sensor,
            parameter=self.parameter,
            level=_level(i),
            start_ns=detector.start_ns,
            end_ns=end_ns,
            peak=detector.peak,
            limit=detector.limit,
            room_state=detector.start_state.value,
            samples=detector.samples,
            equipment=self.equipment,
            rule=_rule(i).value,
        )


def _level(i: int) -> Level:
    return LEVELS[i] if i < RATE_RISE else RATE_LEVEL


def _rule(i: int) -> Rule:
    return Rule.LIMIT if i < RATE_RISE else Rule.RATE
