"""The state machine of one channel: one parameter of one sensor in one room.

A channel runs four ``LevelDetector``s on event time — alert and action, high
and low — each with its own alarm and excursion, all judged on every reading:
an action alarm is raised on top of an alert one, and on the way down the
action alarm clears while the alert one may stay. A reading not newer than the
last one the channel saw (broker redelivery, out of order) changes nothing.
The limits in force are those of the room state at the reading's timestamp;
with ``window_s`` the value judged is the rolling-window concentration.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from envmon.alarms.events import Alarm, AlarmEvent, AlarmState, Excursion, Level, Transition
from envmon.alarms.lifecycle import AlarmBook, make_alarm_id, return_to_normal
from envmon.alarms.rules import CLEAR, RAISE, LevelDetector, Persistence
from envmon.alarms.window import RollingWindow
from envmon.gmp import LIMIT_KEYS, ResolvedLimits
from envmon.readings import NS_PER_S, RoomState

# Detector order; aligned with gmp.LIMIT_KEYS (alert_high, action_high, alert_low, action_low).
LEVELS: Final = (Level.ALERT, Level.ACTION, Level.ALERT, Level.ACTION)
HIGH_SIDE: Final = (True, True, False, False)
_NO_EVENTS: Final[Sequence[AlarmEvent]] = ()


@dataclass(frozen=True, slots=True)
class StateRules:
    """``ResolvedLimits`` of one room state, compiled for the hot path."""

    limits: tuple[float | None, float | None, float | None, float | None]
    persistence: Persistence
    window_ns: int
    """0 when judging each reading on its own."""
    window_s: float | None = None

    @classmethod
    def compile(cls, resolved: ResolvedLimits) -> StateRules:
        return cls(
            limits=(
                resolved.alert_high,
                resolved.action_high,
                resolved.alert_low,
                resolved.action_low,
            ),
            persistence=Persistence.from_seconds(
                resolved.delay_s, resolved.consecutive, resolved.n_of_m, resolved.deadband
            ),
            window_ns=round(resolved.window_s * NS_PER_S) if resolved.window_s else 0,
            window_s=resolved.window_s,
        )


NO_RULES: Final = StateRules(
    limits=(None, None, None, None), persistence=Persistence(), window_ns=0
)


class Channel:
    """Excursion detection and alarms of one (room, sensor, parameter)."""

    __slots__ = (
        "alarm_ids",
        "detectors",
        "keep_ns",
        "key",
        "last_ts_ns",
        "parameter",
        "room",
        "rules",
        "saved_idle",
        "sensor",
        "site",
        "window",
    )

    def __init__(
        self,
        site: str,
        room: str,
        sensor: str,
        parameter: str,
        limits_by_state: Mapping[RoomState, ResolvedLimits],
    ) -> None:
        self.site, self.room, self.sensor, self.parameter = site, room, sensor, parameter
        self.key = f"{room}/{sensor}/{parameter}"
        """The channel's name in checkpoints."""
        self.saved_idle = True
        """Whether the last checkpoint of this channel (or none: a new channel) is idle."""
        self.last_ts_ns = -1
        self.alarm_ids: list[str | None] = [None, None, None, None]
        self.detectors = tuple(LevelDetector(high) for high in HIGH_SIDE)
        self.rules: dict[RoomState, StateRules] = {}
        self.window: RollingWindow | None = None
        self.keep_ns = 0
        self.set_limits(limits_by_state)

    def set_limits(self, limits_by_state: Mapping[RoomState, ResolvedLimits]) -> None:
        """New limits (start or reload); excursions in progress continue under them."""
        self.rules = {
            state: StateRules.compile(limits_by_state[state])
            if state in limits_by_state
            else NO_RULES
            for state in RoomState
        }
        history_len = max(r.persistence.m for r in self.rules.values())
        for detector in self.detectors:
            detector.resize_history(history_len)
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
        state: RoomState,
        book: AlarmBook,
    ) -> Sequence[AlarmEvent]:
        """Judge one reading taken in room state ``state``; returns the alarm events."""
        if ts_ns <= self.last_ts_ns:
            return _NO_EVENTS
        self.last_ts_ns = ts_ns
        rules = self.rules[state]
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
        return events if events is not None else _NO_EVENTS

    def _raise(
        self, i: int, value: float, ts_ns: int, rules: StateRules, book: AlarmBook
    ) -> list[AlarmEvent]:
        detector = self.detectors[i]
        level = LEVELS[i]
        alarm_id = make_alarm_id(self.site, self.room, self.sensor, self.parameter, level, ts_ns)
        detail = f"{'above' if HIGH_SIDE[i] else 'below'} {LIMIT_KEYS[i]} {detector.limit:g}"
        if rules.window_s:
            detail += f" (rolling {rules.window_s:g} s concentration)"
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
            detail=detail,
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
        detector = self.detectors[i]
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

    def _excursion(self, i: int, alarm_id: str, end_ns: int | None) -> Excursion:
        """The excursion of alarm ``alarm_id``; it carries the alarm's id."""
        detector = self.detectors[i]
        return Excursion(
            id=alarm_id,
            alarm_id=alarm_id,
            site=self.site,
            room=self.room,
            sensor=self.sensor,
            parameter=self.parameter,
            level=LEVELS[i],
            start_ns=detector.start_ns,
            end_ns=end_ns,
            peak=detector.peak,
            limit=detector.limit,
            room_state=detector.start_state.value,
            samples=detector.samples,
        )

    def to_state(self) -> dict[str, Any]:
        """The channel's whole judgement state, JSON-ready: a restart checkpoint.

        Most channels are idle (no run, no history, no window): their state is
        only the last judged timestamp, which keeps checkpoints cheap at scale.
        """
        if self._idle():
            return {"last_ts_ns": self.last_ts_ns}
        return {
            "last_ts_ns": self.last_ts_ns,
            "alarm_ids": list(self.alarm_ids),
            "detectors": [d.to_state() for d in self.detectors],
            "window": self.window.to_state() if self.window is not None else None,
        }

    def checkpoint_json(self) -> str | None:
        """The state a checkpoint must save, or None when nothing it holds would change.

        An idle channel whose last saved state was idle too is not saved again,
        though its last timestamp moved: after a restart the broker redelivers
        only readings judged after the last checkpoint, and judging those again
        from an idle state ends exactly as the first time (an idle channel has
        neither run nor history to replay; a reading that raised or cleared an
        alarm was saved with that event). Most channels stay idle, so a
        checkpoint writes a handful of rows instead of one per reading.
        """
        if self._idle():
            if self.saved_idle:
                return None
            self.saved_idle = True
            return f'{{"last_ts_ns":{self.last_ts_ns}}}'
        self.saved_idle = False
        return json.dumps(self.to_state(), separators=(",", ":"))

    def _idle(self) -> bool:
        return self.window is None and all(
            not (d.active or d.run_count or d.history) for d in self.detectors
        )

    def load_state(self, state: Mapping[str, Any], book: AlarmBook) -> None:
        """Continue exactly where a checkpoint left off.

        An alarm id is kept only while the book (restored from the journal) still
        has that alarm active; otherwise its detector starts afresh.
        """
        self.last_ts_ns = max(self.last_ts_ns, int(state["last_ts_ns"]))
        if "detectors" not in state:  # idle when saved
            for i, detector in enumerate(self.detectors):
                if self.alarm_ids[i] is not None:
                    book.untrack(self.alarm_ids[i])  # type: ignore[arg-type]
                    self.alarm_ids[i] = None
                detector.active = False
                detector.run_count = 0
                detector.history.clear()
            self.saved_idle = True
            return
        for i, (detector, saved) in enumerate(zip(self.detectors, state["detectors"], strict=True)):
            detector.load_state(saved)
            alarm_id = state["alarm_ids"][i]
            alarm = book.get(alarm_id) if alarm_id is not None else None
            if alarm is not None and alarm.active and detector.active:
                self.alarm_ids[i] = alarm_id
                book.track(alarm_id, detector)
            else:
                if self.alarm_ids[i] is not None:
                    book.untrack(self.alarm_ids[i])  # type: ignore[arg-type]
                self.alarm_ids[i] = None
                detector.active = False
        if self.window is not None and state["window"] is not None:
            self.window.load_state(state["window"])
        self.saved_idle = self._idle()

    def resume(self, alarm: Alarm, excursion: Excursion | None, book: AlarmBook) -> bool:
        """Continue an active alarm restored from the journal; False if it is not this
        channel's kind (a fault or comm-loss alarm)."""
        if alarm.level not in (Level.ALERT, Level.ACTION) or not alarm.active:
            return False
        i = _detector_index(alarm)
        if excursion is not None:
            start_ns, peak, samples = excursion.start_ns, excursion.peak, excursion.samples
            state_word = excursion.room_state
        else:
            start_ns, samples = alarm.raised_ns, alarm.samples
            peak = alarm.peak if alarm.peak is not None else (alarm.value or 0.0)
            state_word = alarm.room_state or RoomState.IN_OPERATION.value
        limit = alarm.limit if alarm.limit is not None else 0.0
        self.detectors[i].resume(start_ns, peak, samples, limit, _room_state(state_word))
        self.alarm_ids[i] = alarm.id
        self.last_ts_ns = max(self.last_ts_ns, alarm.raised_ns)
        book.track(alarm.id, self.detectors[i])
        return True


def _detector_index(alarm: Alarm) -> int:
    """Which detector raised a limit alarm: the detail names the side; peak vs limit
    decides for alarms written without it."""
    if alarm.detail.startswith("below"):
        high = False
    elif alarm.detail.startswith("above"):
        high = True
    else:
        high = not (alarm.peak is not None and alarm.limit is not None and alarm.peak < alarm.limit)
    level_offset = 1 if alarm.level is Level.ACTION else 0
    return level_offset if high else 2 + level_offset


def _room_state(word: str) -> RoomState:
    try:
        return RoomState(word)
    except ValueError:
        return RoomState.IN_OPERATION
