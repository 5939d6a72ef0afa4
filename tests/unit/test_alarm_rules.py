"""Excursion detection of one level: delay, consecutive, N of M, deadband, sides."""

from __future__ import annotations

from envmon.alarms.rules import (
    CLEAR,
    NOTHING,
    RAISE,
    TRANSIENT,
    LevelDetector,
    Persistence,
    RateOfChange,
)
from envmon.readings import NS_PER_S, RoomState

IN_OP = RoomState.IN_OPERATION


def feed(
    detector: LevelDetector,
    limit: float | None,
    rule: Persistence,
    samples: list[tuple[float, float]],
) -> list[int]:
    """Feed (t in seconds, value) pairs; return the outcome of each."""
    return [detector.observe(v, int(t * NS_PER_S), limit, rule, IN_OP) for t, v in samples]


def every_minute(*values: float) -> list[tuple[float, float]]:
    return [(60.0 * i, v) for i, v in enumerate(values)]


class TestImmediate:
    def test_raise_on_first_reading_beyond(self) -> None:
        """Without rules the first reading above the limit raises."""
        d = LevelDetector(high=True)
        assert feed(d, 10, Persistence(), every_minute(5, 11, 12, 9)) == [
            NOTHING,
            RAISE,
            NOTHING,
            CLEAR,
        ]
        assert (d.start_ns, d.peak, d.samples) == (60 * NS_PER_S, 12, 2)

    def test_equal_to_limit_is_within(self) -> None:
        """A value equal to the limit is not beyond it."""
        d = LevelDetector(high=True)
        assert feed(d, 10, Persistence(), every_minute(10, 10)) == [NOTHING, NOTHING]

    def test_low_side(self) -> None:
        """A low limit raises below and tracks the minimum as peak."""
        d = LevelDetector(high=False)
        assert feed(d, 10, Persistence(), every_minute(12, 9, 7, 8, 11)) == [
            NOTHING,
            RAISE,
            NOTHING,
            NOTHING,
            CLEAR,
        ]
        assert (d.peak, d.samples) == (7, 3)

    def test_no_limit_never_raises(self) -> None:
        """A level without a limit never raises."""
        d = LevelDetector(high=True)
        assert feed(d, None, Persistence(), every_minute(1e9, 1e9)) == [NOTHING, NOTHING]


class TestDelay:
    rule = Persistence.from_seconds(delay_s=60)

    def test_dip_shorter_than_delay_is_a_transient(self) -> None:
        """A door-opening dip of 30 s under a 60 s delay raises nothing: it is one transient,
        from the first reading beyond to the first back within, with its minimum as peak."""
        d = LevelDetector(high=False)
        samples = [(0, 15), (10, 8), (20, 7), (30, 9), (40, 15), (50, 15)]
        assert feed(d, 10, self.rule, samples) == [NOTHING] * 4 + [TRANSIENT, NOTHING]
        assert (d.run_start_ns, d.run_peak, d.ended_run_samples, d.run_limit) == (
            10 * NS_PER_S,
            7,
            3,
            10,
        )

    def test_dip_reaching_delay_raises_then_clears(self) -> None:
        """The condition held for the delay raises at that reading; start is the first beyond."""
        d = LevelDetector(high=False)
        samples = [(0, 15), (10, 8), (40, 7), (70, 9), (80, 12)]
        assert feed(d, 10, self.rule, samples) == [NOTHING, NOTHING, NOTHING, RAISE, CLEAR]
        assert (d.start_ns, d.peak, d.samples) == (10 * NS_PER_S, 7, 3)

    def test_interruption_restarts_the_delay(self) -> None:
        """A reading back within resets the delay's clock."""
        d = LevelDetector(high=True)
        samples = [(0, 11), (50, 9), (60, 11), (100, 11), (120, 11)]
        assert feed(d, 10, self.rule, samples) == [NOTHING, TRANSIENT, NOTHING, NOTHING, RAISE]
        assert d.start_ns == 60 * NS_PER_S

    def test_a_run_that_meets_the_delay_is_no_transient(self) -> None:
        """A dip that meets the delay is an excursion: its end is a clear, not a transient."""
        d = LevelDetector(high=False)
        samples = [(0, 8), (60, 7), (70, 15), (80, 15)]
        assert feed(d, 10, self.rule, samples) == [NOTHING, RAISE, CLEAR, NOTHING]

    def test_a_run_whose_limit_goes_away_ends_as_a_transient(self) -> None:
        """The limit gone (a reload, another state) ends the run: a transient under the
        limit it began with."""
        d = LevelDetector(high=True)
        assert d.observe(11, 0, 10, self.rule, IN_OP) == NOTHING
        assert d.observe(12, 10 * NS_PER_S, None, self.rule, IN_OP) == TRANSIENT
        assert (d.run_peak, d.ended_run_samples, d.run_limit) == (11, 1, 10)

    def test_exactly_the_delay_is_enough(self) -> None:
        """Beyond at 0 s and at 60 s meets a 60 s delay."""
        d = LevelDetector(high=True)
        assert feed(d, 10, self.rule, [(0, 11), (60, 11)]) == [NOTHING, RAISE]


class TestConsecutive:
    rule = Persistence.from_seconds(consecutive=3)

    def test_needs_n_consecutive(self) -> None:
        """Two beyond then one within raises nothing; three in a row raise on the third."""
        d = LevelDetector(high=True)
        outcomes = feed(d, 29, self.rule, every_minute(35, 35, 0, 35, 35, 70))
        assert outcomes == [NOTHING, NOTHING, TRANSIENT, NOTHING, NOTHING, RAISE]
        assert (d.start_ns, d.peak, d.samples) == (180 * NS_PER_S, 70, 3)

    def test_delay_and_consecutive_both_apply(self) -> None:
        """With both rules set, both must hold."""
        d = LevelDetector(high=True)
        rule = Persistence.from_seconds(delay_s=100, consecutive=2)
        samples = [(0, 11), (10, 11), (50, 11), (100, 11)]
        assert feed(d, 10, rule, samples) == [NOTHING, NOTHING, NOTHING, RAISE]


class TestNOfM:
    rule = Persistence.from_seconds(n_of_m=(3, 5))

    def test_n_of_the_last_m(self) -> None:
        """Three beyond among the last five raise; the excursion starts at the earliest counted."""
        d = LevelDetector(high=True, history_len=5)
        outcomes = feed(d, 29, self.rule, every_minute(35, 0, 35, 0, 106))
        assert outcomes == [NOTHING, TRANSIENT, NOTHING, TRANSIENT, RAISE]
        assert (d.start_ns, d.peak, d.samples) == (0, 106, 5)

    def test_counts_fall_out_of_the_window(self) -> None:
        """Beyond readings older than M samples no longer count."""
        d = LevelDetector(high=True, history_len=5)
        outcomes = feed(d, 29, self.rule, every_minute(35, 0, 0, 0, 35, 0, 35, 35))
        assert outcomes == [
            NOTHING,
            TRANSIENT,
            NOTHING,
            NOTHING,
            NOTHING,
            TRANSIENT,
            NOTHING,
            RAISE,
        ]
        assert d.start_ns == 4 * 60 * NS_PER_S
        assert d.samples == 4

    def test_ends_at_first_reading_within_and_history_restarts(self) -> None:
        """After the return to normal a new excursion needs N fresh readings beyond."""
        d = LevelDetector(high=True, history_len=5)
        outcomes = feed(d, 29, self.rule, every_minute(35, 35, 35, 0, 35, 35, 35))
        assert outcomes == [NOTHING, NOTHING, RAISE, CLEAR, NOTHING, NOTHING, RAISE]
        assert d.start_ns == 4 * 60 * NS_PER_S

    def test_within_reading_never_raises(self) -> None:
        """The reading that completes the count must itself be beyond."""
        d = LevelDetector(high=True, history_len=5)
        outcomes = feed(d, 29, Persistence.from_seconds(n_of_m=(2, 5)), every_minute(35, 0, 0))
        assert outcomes == [NOTHING, TRANSIENT, NOTHING]

    def test_low_side_peak_is_minimum(self) -> None:
        """On the low side the peak of the counted span is its minimum."""
        d = LevelDetector(high=False, history_len=3)
        outcomes = feed(d, 10, Persistence.from_seconds(n_of_m=(2, 3)), every_minute(4, 12, 8))
        assert outcomes == [NOTHING, TRANSIENT, RAISE]
        assert (d.start_ns, d.peak, d.samples) == (0, 4, 3)


class TestDeadband:
    rule = Persistence.from_seconds(deadband=0.5)

    def test_high_side_returns_only_below_limit_minus_deadband(self) -> None:
        """Back under the limit but inside the deadband keeps the excursion going."""
        d = LevelDetector(high=True)
        outcomes = feed(d, 25, self.rule, every_minute(26, 24.8, 24.5, 24.4))
        assert outcomes == [RAISE, NOTHING, NOTHING, CLEAR]
        assert d.samples == 3

    def test_low_side_returns_only_above_limit_plus_deadband(self) -> None:
        """On the low side the value must climb past limit + deadband."""
        d = LevelDetector(high=False)
        outcomes = feed(d, 10, self.rule, every_minute(9, 10.2, 10.6))
        assert outcomes == [RAISE, NOTHING, CLEAR]

    def test_deadband_does_not_widen_the_trigger(self) -> None:
        """A value inside the deadband but within the limit does not raise."""
        d = LevelDetector(high=True)
        assert feed(d, 25, self.rule, every_minute(24.8, 24.9)) == [NOTHING, NOTHING]


class TestLimitChanges:
    def test_active_excursion_clears_when_limit_disappears(self) -> None:
        """No limit in force any more ends the excursion at that reading."""
        d = LevelDetector(high=True)
        rule = Persistence()
        assert d.observe(50, 0, 29, rule, IN_OP) == RAISE
        assert d.observe(50, 60 * NS_PER_S, None, rule, IN_OP) == CLEAR

    def test_active_excursion_judged_against_new_limit(self) -> None:
        """A higher limit mid-excursion ends it when the value is within the new one."""
        d = LevelDetector(high=True)
        rule = Persistence()
        assert d.observe(50, 0, 29, rule, IN_OP) == RAISE
        assert d.observe(50, 1, 2930, rule, RoomState.AT_REST) == CLEAR

    def test_resume_continues_an_excursion(self) -> None:
        """A resumed detector is active: the next reading beyond raises nothing new."""
        d = LevelDetector(high=True)
        d.resume(start_ns=0, peak=40, samples=3, limit=29, state=IN_OP)
        assert d.observe(60, 10, 29, Persistence(), IN_OP) == NOTHING
        assert (d.peak, d.samples) == (60, 4)
        assert d.observe(0, 20, 29, Persistence(), IN_OP) == CLEAR


def rates(
    rate: RateOfChange,
    samples: list[tuple[float, float]],
    high: float | None = 1.0,
    low: float | None = None,
    rule: Persistence = Persistence(),  # noqa: B008 - frozen, shared on purpose
) -> list[tuple[float | None, int, int]]:
    """Feed (t in seconds, value); the rate and the rise/fall outcome of each."""
    return [rate.observe(v, int(t * NS_PER_S), high, low, rule, IN_OP) for t, v in samples]


class TestRateOfChange:
    def test_rate_is_per_minute_from_the_previous_reading_on_event_time(self) -> None:
        """The rate uses both readings' own timestamps, whatever their spacing."""
        r = RateOfChange()
        out = rates(r, [(0, -80.0), (30, -79.5), (90, -78.5), (100, -78.0)], high=None)
        assert [rate for rate, _, _ in out] == [None, 1.0, 1.0, 3.0]

    def test_first_reading_has_no_rate(self) -> None:
        """A channel's first judged reading judges nothing, however large its value."""
        r = RateOfChange()
        assert rates(r, [(0, 1e6)]) == [(None, NOTHING, NOTHING)]

    def test_rise_faster_than_the_high_rate_raises_and_clears(self) -> None:
        """Above rate_per_min_high raises at that reading; the first rate within clears."""
        r = RateOfChange()
        out = rates(r, [(0, -80), (60, -79.5), (120, -78), (180, -76), (240, -75.5)])
        assert [o[1] for o in out] == [NOTHING, NOTHING, RAISE, NOTHING, CLEAR]
        assert (r.rise.start_ns, r.rise.peak, r.rise.samples, r.rise.limit) == (
            120 * NS_PER_S,
            2.0,
            2,
            1.0,
        )

    def test_fall_faster_than_the_low_rate_raises(self) -> None:
        """rate_per_min_low is a negative limit: a fall faster than its size raises."""
        r = RateOfChange()
        out = rates(r, [(0, 90), (60, 89), (120, 86), (180, 85.5)], high=None, low=-2.0)
        assert [o[2] for o in out] == [NOTHING, NOTHING, RAISE, CLEAR]
        assert r.fall.peak == -3.0

    def test_a_rate_equal_to_the_limit_is_within(self) -> None:
        """Exactly the limit per minute is not faster than it."""
        r = RateOfChange()
        assert [o[1] for o in rates(r, [(0, 0), (60, 1), (120, 2)])] == [NOTHING] * 3

    def test_delay_applies_to_the_rate(self) -> None:
        """A fast rise shorter than the parameter's delay is no excursion; a longer one is."""
        rule = Persistence.from_seconds(delay_s=300)
        short = RateOfChange()
        out = rates(short, [(0, 0), (60, 2), (120, 4), (180, 4), (240, 4)], rule=rule)
        assert [o[1] for o in out] == [NOTHING] * 5
        long = RateOfChange()
        samples = [(t, 2.0 * t / 60) for t in range(0, 480, 60)]
        outcomes = [o[1] for o in rates(long, samples, rule=rule)]
        assert outcomes == [NOTHING] * 6 + [RAISE, NOTHING]
        assert long.rise.start_ns == 60 * NS_PER_S

    def test_consecutive_applies_to_the_rate(self) -> None:
        """With consecutive = 2 one fast step is noise, two are a trend."""
        rule = Persistence.from_seconds(consecutive=2)
        r = RateOfChange()
        out = rates(r, [(0, 0), (60, 5), (120, 5), (180, 10), (240, 15)], rule=rule)
        assert [o[1] for o in out] == [NOTHING, NOTHING, NOTHING, NOTHING, RAISE]

    def test_a_rate_alarm_comes_before_the_absolute_limit(self) -> None:
        """A freezer warming 2 °C/min from -80 raises its rate long before -60 is reached."""
        r = RateOfChange()
        samples = [(60.0 * i, -80.0 + 2.0 * max(0, i - 2)) for i in range(8)]
        out = rates(r, samples)
        first = next(i for i, o in enumerate(out) if o[1] == RAISE)
        assert samples[first] == (180.0, -78.0)

    def test_state_round_trip(self) -> None:
        """The previous reading and both detectors survive a checkpoint."""
        r = RateOfChange()
        rates(r, [(0, 0), (60, 5)])
        copy = RateOfChange()
        copy.load_state(r.to_state())
        assert copy.to_state() == r.to_state()
        assert rates(copy, [(120, 5)]) == [(0.0, CLEAR, NOTHING)]
