"""One channel: alert and action levels, excursions, state switches, duplicates."""

from __future__ import annotations

import json
from typing import Any

import pytest

from envmon.alarms import channel_state
from envmon.alarms.channel import Channel
from envmon.alarms.events import AlarmEvent, AlarmState, Level, Transition
from envmon.alarms.lifecycle import AlarmBook, make_alarm_id
from envmon.gmp import LIMIT_KEYS, RULE_KEYS, ResolvedLimits
from envmon.readings import NS_PER_S, RoomState

AT_REST, IN_OP = RoomState.AT_REST, RoomState.IN_OPERATION


def limits(**values: Any) -> ResolvedLimits:
    base: dict[str, Any] = dict.fromkeys(LIMIT_KEYS)
    base.update(delay_s=0.0, consecutive=1, n_of_m=None, window_s=None, deadband=0.0)
    base.update(values)
    return ResolvedLimits(**base, sources=dict.fromkeys((*LIMIT_KEYS, *RULE_KEYS), "test"))


class Rig:
    """A channel with its book, fed (seconds, value) readings."""

    def __init__(self, by_state: dict[RoomState, ResolvedLimits]) -> None:
        self.book = AlarmBook()
        self.channel = Channel("site1", "FILL-A", "PC-1", "particles_5_0um", by_state)

    def feed(
        self, t_s: float, value: float, state: RoomState = IN_OP, volume_l: float | None = None
    ) -> list[AlarmEvent]:
        return list(self.channel.observe(value, volume_l, int(t_s * NS_PER_S), state, self.book))


def both_states(lim: ResolvedLimits) -> dict[RoomState, ResolvedLimits]:
    return {AT_REST: lim, IN_OP: lim}


def kinds(events: list[AlarmEvent]) -> list[tuple[Transition, Level]]:
    return [(e.transition, e.alarm.level) for e in events]


class TestEscalation:
    lim = limits(alert_high=20.0, action_high=29.0)

    def test_alert_then_action_then_back(self) -> None:
        """Alert raises first, action on top; on the way down action clears while alert stays."""
        rig = Rig(both_states(self.lim))
        assert kinds(rig.feed(0, 25)) == [(Transition.RAISED, Level.ALERT)]
        assert kinds(rig.feed(60, 35)) == [(Transition.RAISED, Level.ACTION)]
        assert rig.feed(120, 40) == []
        assert kinds(rig.feed(180, 22)) == [(Transition.CLEARED, Level.ACTION)]
        assert kinds(rig.feed(240, 10)) == [(Transition.CLEARED, Level.ALERT)]

    def test_jump_straight_to_action_raises_both(self) -> None:
        """One reading beyond both limits raises alert and action at once."""
        rig = Rig(both_states(self.lim))
        assert kinds(rig.feed(0, 50)) == [
            (Transition.RAISED, Level.ALERT),
            (Transition.RAISED, Level.ACTION),
        ]
        assert len(rig.book.open_alarms()) == 2

    def test_excursions_of_each_level(self) -> None:
        """Each level records its own start, end, duration, peak, limit and samples."""
        rig = Rig(both_states(self.lim))
        for t, v in [(0, 25), (60, 35), (120, 40), (180, 22), (240, 10)]:
            rig.feed(t, v)
        alarms = {a.level: a for a in rig.book.open_alarms()}
        assert alarms[Level.ACTION].raised_ns == 60 * NS_PER_S
        assert alarms[Level.ACTION].cleared_ns == 180 * NS_PER_S

        rig = Rig(both_states(self.lim))
        events = [
            e
            for t, v in [(0, 25), (60, 35), (120, 40), (180, 22), (240, 10)]
            for e in rig.feed(t, v)
        ]
        closed = {e.alarm.level: e.excursion for e in events if e.transition is Transition.CLEARED}
        action, alert = closed[Level.ACTION], closed[Level.ALERT]
        assert action is not None and alert is not None
        assert (action.start_ns, action.end_ns, action.duration_s) == (
            60 * NS_PER_S,
            180 * NS_PER_S,
            120,
        )
        assert (action.peak, action.limit, action.samples) == (40, 29, 2)
        assert (alert.start_ns, alert.end_ns, alert.peak, alert.limit, alert.samples) == (
            0,
            240 * NS_PER_S,
            40,
            20,
            4,
        )
        assert action.room_state == "in_operation"

    def test_raised_event_carries_open_excursion(self) -> None:
        """RAISED carries the excursion so far, with no end."""
        rig = Rig(both_states(limits(action_high=29.0, consecutive=2)))
        rig.feed(0, 35)
        (event,) = rig.feed(60, 70)
        assert event.excursion is not None
        assert (event.excursion.start_ns, event.excursion.end_ns) == (0, None)
        assert (event.excursion.peak, event.excursion.samples) == (70, 2)
        assert event.excursion.alarm_id == event.alarm.id == event.excursion.id


class TestSides:
    def test_high_and_low_are_separate_alarms(self) -> None:
        """From above the high limit to below the low one: one alarm clears, the other raises."""
        rig = Rig(both_states(limits(action_high=25.0, action_low=15.0)))
        (high,) = rig.feed(0, 26)
        events = rig.feed(60, 14)
        assert [e.transition for e in events] == [Transition.CLEARED, Transition.RAISED]
        assert events[1].alarm.detail == "below action_low 15"
        assert high.alarm.detail == "above action_high 25"
        assert events[1].alarm.id != high.alarm.id


class TestDuplicatesAndOrder:
    lim = limits(action_high=29.0, consecutive=2)

    def test_duplicate_does_not_count_twice(self) -> None:
        """A redelivered reading is not a second consecutive sample."""
        rig = Rig(both_states(self.lim))
        assert rig.feed(0, 35) == []
        assert rig.feed(0, 35) == []
        assert len(rig.feed(60, 35)) == 1

    def test_out_of_order_reading_changes_nothing(self) -> None:
        """An older reading after a newer one is ignored, even if it would clear."""
        rig = Rig(both_states(limits(action_high=29.0)))
        rig.feed(60, 35)
        assert rig.feed(30, 0) == []
        assert rig.book.open_alarms()[0].state is AlarmState.ACTIVE_UNACKED

    def test_redelivered_raising_reading_raises_once(self) -> None:
        """The same reading twice raises one alarm."""
        rig = Rig(both_states(limits(action_high=29.0)))
        assert len(rig.feed(0, 35)) == 1
        assert rig.feed(0, 35) == []
        assert len(rig.book.open_alarms()) == 1


class TestRoomStateSwitch:
    def test_switch_mid_excursion_judges_next_reading_by_new_limits(self) -> None:
        """Grade B: 1000/m³ ≥5.0 µm is an excursion at rest, within limits in operation."""
        rig = Rig({AT_REST: limits(action_high=29.0), IN_OP: limits(action_high=2930.0)})
        (raised,) = rig.feed(0, 1000, AT_REST)
        assert raised.alarm.room_state == "at_rest"
        (cleared,) = rig.feed(60, 1000, IN_OP)
        assert cleared.transition is Transition.CLEARED
        assert cleared.excursion is not None
        assert cleared.excursion.limit == 29
        assert cleared.excursion.room_state == "at_rest"

    def test_switch_to_stricter_state_raises(self) -> None:
        """The same value goes beyond when the stricter state begins."""
        rig = Rig({AT_REST: limits(action_high=29.0), IN_OP: limits(action_high=2930.0)})
        assert rig.feed(0, 1000, IN_OP) == []
        (raised,) = rig.feed(60, 1000, AT_REST)
        assert raised.alarm.limit == 29

    def test_switch_changes_delay_of_pending_condition(self) -> None:
        """The delay in force at the reading decides, measured from the first beyond."""
        rig = Rig(
            {
                AT_REST: limits(action_low=10.0, delay_s=300),
                IN_OP: limits(action_low=10.0, delay_s=60),
            }
        )
        assert rig.feed(0, 5, AT_REST) == []
        assert rig.feed(30, 5, AT_REST) == []
        (raised,) = rig.feed(60, 5, IN_OP)
        assert raised.excursion is not None and raised.excursion.start_ns == 0

    def test_state_without_limit_clears(self) -> None:
        """A state with no limit (grade D in operation) ends an excursion from at rest."""
        rig = Rig({AT_REST: limits(action_high=29300.0), IN_OP: limits()})
        rig.feed(0, 40000, AT_REST)
        (cleared,) = rig.feed(60, 40000, IN_OP)
        assert cleared.transition is Transition.CLEARED


class TestWindowRule:
    def test_grade_a_single_counts_do_not_alarm_but_a_burst_does(self) -> None:
        """In a 10 min window an isolated count stays below 29/m³; nine in ten minutes exceed it."""
        one = 1000 / 28.3
        rig = Rig(both_states(limits(alert_high=1.0, action_high=29.0, window_s=600)))
        for minute in range(10):
            assert rig.feed(60 * minute, 0, volume_l=28.3) == []
        events = rig.feed(600, one, volume_l=28.3)
        assert kinds(events) == [(Transition.RAISED, Level.ALERT)]
        assert events[0].alarm.value == pytest.approx(1000 / 283)
        action = []
        for minute in range(11, 20):
            found = rig.feed(60 * minute, one, volume_l=28.3)
            action += [e for e in found if e.alarm.level is Level.ACTION]
        assert [e.transition for e in action] == [Transition.RAISED]
        assert action[0].alarm.raised_ns == 18 * 60 * NS_PER_S  # 9 counts in 283 L
        assert "rolling 600 s concentration" in action[0].alarm.detail
        assert action[0].alarm.value is not None and action[0].alarm.value > 29

    def test_partial_window_is_judged_on_the_volume_sampled(self) -> None:
        """Before a whole window has been sampled, one count in 28.3 L is 35/m³ (conservative)."""
        rig = Rig(both_states(limits(action_high=29.0, window_s=600)))
        assert kinds(rig.feed(0, 1000 / 28.3, volume_l=28.3)) == [(Transition.RAISED, Level.ACTION)]

    def test_window_without_volume_uses_mean(self) -> None:
        """Temperature judged as a rolling mean: one spike in a window does not alarm."""
        rig = Rig(both_states(limits(action_high=25.0, window_s=300)))
        for t in range(0, 300, 60):
            assert rig.feed(t, 20) == []
        assert rig.feed(300, 40) == []
        assert len(rig.feed(360, 40)) == 1


class TestAlarmIds:
    def test_id_is_deterministic(self) -> None:
        """Replaying the same stream yields the same alarm ids."""
        ids = []
        for _ in range(2):
            rig = Rig(both_states(limits(action_high=29.0)))
            ids.append(rig.feed(5, 35)[0].alarm.id)
        assert ids[0] == ids[1]
        assert ids[0] == make_alarm_id(
            "site1", "FILL-A", "PC-1", "particles_5_0um", Level.ACTION, 5 * NS_PER_S
        )
        assert len(ids[0]) == 10 and int(ids[0], 16) >= 0

    def test_id_differs_by_level_and_time(self) -> None:
        """Level and raise time are part of the id."""
        a = make_alarm_id("s", "r", "x", "p", Level.ALERT, 1)
        assert a != make_alarm_id("s", "r", "x", "p", Level.ACTION, 1)
        assert a != make_alarm_id("s", "r", "x", "p", Level.ALERT, 2)


class TestLatch:
    def test_recurrence_while_latched_is_a_new_alarm(self) -> None:
        """Back to normal unacknowledged stays open; a new excursion gets its own alarm."""
        rig = Rig(both_states(limits(action_high=29.0)))
        first = rig.feed(0, 35)[0].alarm.id
        rig.feed(60, 0)
        second = rig.feed(120, 35)[0].alarm.id
        states = {a.id: a.state for a in rig.book.open_alarms()}
        assert states == {first: AlarmState.CLEARED_UNACKED, second: AlarmState.ACTIVE_UNACKED}

    def test_live_peak_and_samples_of_active_alarm(self) -> None:
        """The open alarm shows the excursion's peak and samples so far."""
        rig = Rig(both_states(limits(action_high=29.0)))
        rig.feed(0, 35)
        rig.feed(60, 90)
        rig.feed(120, 50)
        (alarm,) = rig.book.open_alarms()
        assert (alarm.peak, alarm.samples) == (90, 3)


class TestRateRule:
    lim = limits(action_high=-60.0, rate_per_min_high=1.0)

    def rig(self, lim: ResolvedLimits | None = None) -> Rig:
        rig = Rig(both_states(lim or self.lim))
        rig.channel = Channel(
            "site1", "LAB", "FRZ-01-S1", "temperature", both_states(lim or self.lim), "FRZ-01"
        )
        return rig

    def test_warming_freezer_raises_a_rate_alert_before_the_limit(self) -> None:
        """A rise of 2 °C/min from -80 raises a rate alert at once, the action only at -60."""
        rig = self.rig()
        events = [e for i in range(10) for e in rig.feed(60 * i, -80.0 + 2.0 * i)]
        raised = [e.alarm for e in events if e.transition is Transition.RAISED]
        assert [(a.level, a.rule, a.raised_ns) for a in raised] == [
            (Level.ALERT, "rate", 60 * NS_PER_S),
        ]
        rate = raised[0]
        assert (rate.value, rate.limit, rate.equipment) == (2.0, 1.0, "FRZ-01")
        assert rate.detail == "rate above rate_per_min_high 1 per min"
        assert rate.parameter == "temperature"
        more = rig.feed(60 * 10, -59.0)
        assert [(e.transition, e.alarm.level, e.alarm.rule) for e in more] == [
            (Transition.RAISED, Level.ACTION, "limit")
        ]

    def test_rate_excursion_is_marked_and_ends_when_the_rate_is_within(self) -> None:
        """The rate excursion carries rule rate, its peak rate, and ends at a slow reading."""
        rig = self.rig()
        events = [e for t, v in [(0, -80), (60, -78), (120, -75), (180, -74.8)]
                  for e in rig.feed(t, v)]  # fmt: skip
        cleared = [e for e in events if e.transition is Transition.CLEARED]
        assert len(cleared) == 1 and cleared[0].excursion is not None
        excursion = cleared[0].excursion
        assert (excursion.rule, excursion.peak, excursion.limit, excursion.equipment) == (
            "rate",
            3.0,
            1.0,
            "FRZ-01",
        )
        assert (excursion.start_ns, excursion.end_ns) == (60 * NS_PER_S, 180 * NS_PER_S)

    def test_checkpoint_carries_the_rate_state(self) -> None:
        """A channel restored mid rate excursion clears it, not raises it again."""
        rig = self.rig()
        rig.feed(0, -80)
        (raised,) = rig.feed(60, -78)
        text = channel_state.checkpoint_json(rig.channel)
        assert text is not None
        restored = Channel(
            "site1", "LAB", "FRZ-01-S1", "temperature", both_states(self.lim), "FRZ-01"
        )
        channel_state.load_state(restored, json.loads(text), rig.book)
        (cleared,) = restored.observe(-77.9, None, 120 * NS_PER_S, IN_OP, rig.book)
        assert (cleared.transition, cleared.alarm.id) == (Transition.CLEARED, raised.alarm.id)

    def test_resume_from_the_journal_continues_the_rate_alarm(self) -> None:
        """An open rate alarm from the journal goes back to the rate detector."""
        rig = self.rig()
        rig.feed(0, -80)
        (raised,) = rig.feed(60, -78)
        fresh = Channel("site1", "LAB", "FRZ-01-S1", "temperature", both_states(self.lim))
        book = AlarmBook()
        book.restore(raised.alarm)
        assert channel_state.resume(fresh, raised.alarm, raised.excursion, book)
        fresh.observe(-77.0, None, 120 * NS_PER_S, IN_OP, book)  # first rate after restart: none
        (cleared,) = fresh.observe(-76.9, None, 180 * NS_PER_S, IN_OP, book)
        assert cleared.alarm.id == raised.alarm.id

    def test_channel_without_rate_limits_has_no_rate_rule(self) -> None:
        """Built-in cleanroom channels keep no previous reading for a rate."""
        rig = Rig(both_states(limits(action_high=29.0)))
        assert rig.channel.rate is None
