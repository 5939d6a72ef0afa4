"""The report model: every figure computed from plain values."""

from __future__ import annotations

import pytest

from envmon.alarms.events import Excursion, Level
from envmon.facility import Room, Sensor
from envmon.readings import NS_PER_S, Kind, RoomState, RoomStateChange, StateInForce
from envmon.report.model import (
    AckedExcursion,
    DataGap,
    ExcursionRow,
    LimitLines,
    ParameterSummary,
    ReportInputs,
    SensorSpan,
    SensorStats,
    Silence,
    StateSpan,
    build_report,
    completeness_pct,
    data_gaps,
    expected_samples,
    room_parameters,
    state_spans,
    time_in_state,
    verdict,
)

T0 = 1_800_000_000 * NS_PER_S
HOUR = 3600 * NS_PER_S
MIN = 60 * NS_PER_S

ROOM_A = Room(id="FILL-A", grade="A", default_state=RoomState.IN_OPERATION, clean_up_s=0)
ROOM_C = Room(id="PREP-C", grade="C", default_state=RoomState.AT_REST, clean_up_s=0)
PC = Sensor(id="PC-1", room="FILL-A", kind=Kind.PARTICLES, interval_s=60)
TH = Sensor(id="TH-1", room="FILL-A", kind=Kind.CLIMATE, interval_s=10)
DP = Sensor(id="DP-1", room="PREP-C", kind=Kind.PRESSURE, interval_s=10)


def excursion(
    ident: str = "e1",
    room: str = "FILL-A",
    parameter: str = "particles_0_5um",
    level: Level = Level.ACTION,
    start_ns: int = T0 + 10 * MIN,
    end_ns: int | None = T0 + 13 * MIN,
) -> Excursion:
    return Excursion(
        id=ident,
        alarm_id="a-" + ident,
        site="site1",
        room=room,
        sensor="PC-1",
        parameter=parameter,
        level=level,
        start_ns=start_ns,
        end_ns=end_ns,
        peak=5000.0,
        limit=3520.0,
        room_state="in_operation",
        samples=3,
    )


def inputs(**changes: object) -> ReportInputs:
    base: dict[str, object] = {
        "from_ns": T0,
        "to_ns": T0 + HOUR,
        "rooms": (ROOM_A,),
        "sensors": (PC, TH),
        "stats": (),
        "spans": (
            SensorSpan("FILL-A", "PC-1", T0, T0 + 59 * MIN),
            SensorSpan("FILL-A", "TH-1", T0, T0 + HOUR - 10 * NS_PER_S),
        ),
    }
    base.update(changes)
    return ReportInputs(**base)


def summary(completeness: float | None = 100.0) -> ParameterSummary:
    return ParameterSummary("temperature", 360, 360, completeness, 20.0, 21.0, 20.5, 0, 0)


class TestExpectedSamples:
    def test_whole_intervals_in_window(self) -> None:
        """An hour at 60 s is 60 samples, at 10 s 360."""
        assert expected_samples(PC, T0, T0 + HOUR) == 60
        assert expected_samples(TH, T0, T0 + HOUR) == 360

    def test_partial_interval_does_not_count(self) -> None:
        """A window one second short of an hour expects one sample less."""
        assert expected_samples(PC, T0, T0 + HOUR - NS_PER_S) == 59

    def test_fractional_interval(self) -> None:
        """A 2.5 s interval over a minute expects 24 samples."""
        s = Sensor(id="X", room="FILL-A", kind=Kind.CLIMATE, interval_s=2.5)
        assert expected_samples(s, T0, T0 + MIN) == 24


class TestCompleteness:
    def test_full(self) -> None:
        """All expected samples present is exactly 100.0 %."""
        assert completeness_pct(60, 60) == 100.0

    def test_rounded_down(self) -> None:
        """59 of 60 is 98.3 %, and one missing in 2000 never shows as 100.0 %."""
        assert completeness_pct(59, 60) == 98.3
        assert completeness_pct(1999, 2000) == 99.9

    def test_no_expectation(self) -> None:
        """Without sensors nothing is expected: completeness is unknown, not 0 or 100."""
        assert completeness_pct(5, 0) is None

    def test_more_than_expected_is_shown(self) -> None:
        """Extra samples (a faster sensor) are reported as they are."""
        assert completeness_pct(61, 60) == 101.6


class TestParameterSummaries:
    def test_sensors_combined(self) -> None:
        """Two sensors of one room: counts add, min/max over both, mean weighted by count."""
        pc2 = Sensor(id="PC-2", room="FILL-A", kind=Kind.PARTICLES, interval_s=60)
        report = build_report(
            inputs(
                sensors=(PC, pc2),
                stats=(
                    SensorStats("FILL-A", "PC-1", "particles_0_5um", 60, 10.0, 100.0, 1200.0),
                    SensorStats("FILL-A", "PC-2", "particles_0_5um", 30, 5.0, 50.0, 300.0),
                ),
            )
        )
        p = report.rooms[0].parameters[0]
        assert p == ParameterSummary(
            parameter="particles_0_5um",
            samples=90,
            expected_samples=120,
            completeness_pct=75.0,
            min=5.0,
            max=100.0,
            mean=1500.0 / 90,
            alert_excursions=0,
            action_excursions=0,
            unit="counts/m³",
        )

    def test_no_data(self) -> None:
        """A parameter without data has 0 samples and no min, max or mean."""
        report = build_report(inputs())
        p = report.rooms[0].parameters[0]
        assert (p.samples, p.expected_samples, p.completeness_pct) == (0, 60, 0.0)
        assert (p.min, p.max, p.mean) == (None, None, None)

    def test_parameters_follow_sensors_in_contract_order(self) -> None:
        """A room with a particle counter and a climate sensor lists their four parameters."""
        assert room_parameters(ROOM_A, inputs()) == [
            "particles_0_5um",
            "particles_5_0um",
            "temperature",
            "humidity",
        ]

    def test_excursions_counted_per_level(self) -> None:
        """Alert and action excursions are counted per room and parameter."""
        report = build_report(
            inputs(
                excursions=(
                    AckedExcursion(excursion("e1", level=Level.ALERT)),
                    AckedExcursion(excursion("e2", level=Level.ACTION)),
                    AckedExcursion(excursion("e3", level=Level.ALERT)),
                    AckedExcursion(excursion("e4", parameter="temperature", level=Level.ALERT)),
                )
            )
        )
        by_param = {p.parameter: p for p in report.rooms[0].parameters}
        assert (
            by_param["particles_0_5um"].alert_excursions,
            by_param["particles_0_5um"].action_excursions,
        ) == (2, 1)
        assert (
            by_param["temperature"].alert_excursions,
            by_param["temperature"].action_excursions,
        ) == (1, 0)
        assert by_param["humidity"].alert_excursions == 0


class TestDataGaps:
    def test_silent_sensor_is_one_gap_over_the_window(self) -> None:
        """A sensor without any point in the window is one gap from 'from' to 'to'."""
        gaps = data_gaps(
            inputs(spans=(SensorSpan("FILL-A", "TH-1", T0, T0 + HOUR - 10 * NS_PER_S),))
        )
        assert gaps == (DataGap("FILL-A", "PC-1", T0, T0 + HOUR),)

    def test_regular_sensors_have_no_gaps(self) -> None:
        """Sensors sending from the start to one interval before the end have no gap."""
        assert data_gaps(inputs()) == ()

    def test_window_edges(self) -> None:
        """Silence from 'from' to the first point and from the last point to 'to' count."""
        gaps = data_gaps(
            inputs(
                sensors=(PC,), spans=(SensorSpan("FILL-A", "PC-1", T0 + 5 * MIN, T0 + 50 * MIN),)
            )
        )
        assert gaps == (
            DataGap("FILL-A", "PC-1", T0, T0 + 5 * MIN),
            DataGap("FILL-A", "PC-1", T0 + 50 * MIN, T0 + HOUR),
        )

    def test_tolerance_is_exclusive(self) -> None:
        """A silence of exactly tolerance x interval is not a gap; a nanosecond more is."""
        silences = (
            Silence("FILL-A", "PC-1", T0 + 10 * MIN, T0 + 12 * MIN),
            Silence("FILL-A", "PC-1", T0 + 20 * MIN, T0 + 22 * MIN + 1),
        )
        gaps = data_gaps(inputs(sensors=(PC,), silences=silences))
        assert gaps == (DataGap("FILL-A", "PC-1", T0 + 20 * MIN, T0 + 22 * MIN + 1),)

    def test_tolerance_scales_with_each_sensor_interval(self) -> None:
        """A 60 s silence is a gap for a 10 s sensor but not for a 60 s one (tolerance 2)."""
        silences = (
            Silence("FILL-A", "PC-1", T0 + 10 * MIN, T0 + 11 * MIN),
            Silence("FILL-A", "TH-1", T0 + 10 * MIN, T0 + 11 * MIN),
        )
        gaps = data_gaps(inputs(silences=silences))
        assert gaps == (DataGap("FILL-A", "TH-1", T0 + 10 * MIN, T0 + 11 * MIN),)

    def test_configured_tolerance(self) -> None:
        """With a tolerance of 5 intervals a 4-minute silence of a 60 s sensor is no gap."""
        silences = (Silence("FILL-A", "PC-1", T0 + 10 * MIN, T0 + 14 * MIN),)
        assert data_gaps(inputs(sensors=(PC,), silences=silences, gap_tolerance_intervals=5)) == ()

    def test_gap_duration(self) -> None:
        """A gap knows its length in seconds."""
        assert DataGap("R", "S", T0, T0 + 90 * NS_PER_S).duration_s == 90.0


class TestRoomStates:
    def test_default_state_when_nothing_known(self) -> None:
        """Without any state change the room's default state covers the window."""
        assert state_spans(ROOM_C, (), T0, T0 + HOUR) == (
            StateSpan(StateInForce.AT_REST, T0, T0 + HOUR),
        )

    def test_last_change_before_window_applies(self) -> None:
        """The last change before 'from' sets the state at the window start."""
        changes = (
            RoomStateChange(T0 - 2 * HOUR, "site1", "PREP-C", RoomState.IN_OPERATION),
            RoomStateChange(T0 - HOUR, "site1", "PREP-C", RoomState.AT_REST),
            RoomStateChange(T0 + 15 * MIN, "site1", "PREP-C", RoomState.IN_OPERATION),
        )
        spans = state_spans(ROOM_C, changes, T0, T0 + HOUR)
        assert spans == (
            StateSpan(StateInForce.AT_REST, T0, T0 + 15 * MIN),
            StateSpan(StateInForce.IN_OPERATION, T0 + 15 * MIN, T0 + HOUR),
        )

    def test_repeated_state_and_other_rooms_ignored(self) -> None:
        """A repeated state does not split a span; other rooms' changes do not count."""
        changes = (
            RoomStateChange(T0 + 10 * MIN, "site1", "PREP-C", RoomState.AT_REST),
            RoomStateChange(T0 + 20 * MIN, "site1", "FILL-A", RoomState.IN_OPERATION),
        )
        assert state_spans(ROOM_C, changes, T0, T0 + HOUR) == (
            StateSpan(StateInForce.AT_REST, T0, T0 + HOUR),
        )

    def test_unknown_then_clean_up_then_at_rest(self) -> None:
        """A strictest room is unknown until its first change; after in operation to at
        rest the clean-up period is its own span of exactly clean_up_s."""
        room = Room(id="FILL-A", grade="A", clean_up_s=1200)
        changes = (
            RoomStateChange(T0 + 10 * MIN, "site1", "FILL-A", RoomState.IN_OPERATION),
            RoomStateChange(T0 + 30 * MIN, "site1", "FILL-A", RoomState.AT_REST),
            RoomStateChange(T0 + 35 * MIN, "site1", "FILL-A", RoomState.AT_REST),
        )
        assert state_spans(room, changes, T0, T0 + HOUR) == (
            StateSpan(StateInForce.UNKNOWN, T0, T0 + 10 * MIN),
            StateSpan(StateInForce.IN_OPERATION, T0 + 10 * MIN, T0 + 30 * MIN),
            StateSpan(StateInForce.CLEAN_UP, T0 + 30 * MIN, T0 + 50 * MIN),
            StateSpan(StateInForce.AT_REST, T0 + 50 * MIN, T0 + HOUR),
        )

    def test_clean_up_begun_before_the_window(self) -> None:
        """A clean-up that began before 'from' covers the window's start until it ends."""
        room = Room(id="FILL-A", grade="A", clean_up_s=1200)
        changes = (
            RoomStateChange(T0 - HOUR, "site1", "FILL-A", RoomState.IN_OPERATION),
            RoomStateChange(T0 - 5 * MIN, "site1", "FILL-A", RoomState.AT_REST),
        )
        assert state_spans(room, changes, T0, T0 + HOUR) == (
            StateSpan(StateInForce.CLEAN_UP, T0, T0 + 15 * MIN),
            StateSpan(StateInForce.AT_REST, T0 + 15 * MIN, T0 + HOUR),
        )

    def test_change_at_window_start(self) -> None:
        """A change exactly at 'from' applies from the start."""
        changes = (RoomStateChange(T0, "site1", "PREP-C", RoomState.IN_OPERATION),)
        assert state_spans(ROOM_C, changes, T0, T0 + HOUR) == (
            StateSpan(StateInForce.IN_OPERATION, T0, T0 + HOUR),
        )

    def test_time_in_state(self) -> None:
        """Seconds per state in force add up over spans; all four states are always listed."""
        spans = (
            StateSpan(StateInForce.UNKNOWN, T0, T0 + 5 * MIN),
            StateSpan(StateInForce.AT_REST, T0 + 5 * MIN, T0 + 15 * MIN),
            StateSpan(StateInForce.IN_OPERATION, T0 + 15 * MIN, T0 + 40 * MIN),
            StateSpan(StateInForce.CLEAN_UP, T0 + 40 * MIN, T0 + 45 * MIN),
            StateSpan(StateInForce.AT_REST, T0 + 45 * MIN, T0 + HOUR),
        )
        assert time_in_state(spans) == (
            (StateInForce.AT_REST, 1500.0),
            (StateInForce.IN_OPERATION, 1500.0),
            (StateInForce.CLEAN_UP, 300.0),
            (StateInForce.UNKNOWN, 300.0),
        )
        only = (StateSpan(StateInForce.IN_OPERATION, T0, T0 + HOUR),)
        assert time_in_state(only) == (
            (StateInForce.AT_REST, 0.0),
            (StateInForce.IN_OPERATION, 3600.0),
            (StateInForce.CLEAN_UP, 0.0),
            (StateInForce.UNKNOWN, 0.0),
        )


def _row(level: Level, acked_by: str | None = None, ident: str = "e1") -> ExcursionRow:
    return ExcursionRow(excursion(ident, level=level), acked_by, T0 if acked_by else None, None)


class TestVerdict:
    def test_in_control(self) -> None:
        """No excursion, full data: in control, with the completeness stated."""
        v = verdict(ROOM_C, (summary(),), [], [])
        assert (v.status, v.text) == (
            "in_control",
            "In control: no action excursions, completeness 100.0 %",
        )

    def test_unacknowledged_action(self) -> None:
        """One unacknowledged action excursion: NOT IN CONTROL, saying so."""
        v = verdict(ROOM_C, (summary(),), [_row(Level.ACTION)], [])
        assert (v.status, v.text) == (
            "not_in_control",
            "NOT IN CONTROL: 1 action excursion unacknowledged",
        )

    def test_acknowledged_actions(self) -> None:
        """Acknowledged action excursions still mean not in control; unacked ones are counted."""
        rows = [_row(Level.ACTION, "qa", "e1"), _row(Level.ACTION, None, "e2")]
        v = verdict(ROOM_C, (summary(),), rows, [])
        assert v.text == "NOT IN CONTROL: 2 action excursions (1 unacknowledged)"
        v = verdict(ROOM_C, (summary(),), [_row(Level.ACTION, "qa")], [])
        assert v.text == "NOT IN CONTROL: 1 action excursion (acknowledged)"

    def test_alert_only_needs_review(self) -> None:
        """Alert excursions and missing samples call for review, each named."""
        rows = [_row(Level.ALERT, None, "e1"), _row(Level.ALERT, "qa", "e2")]
        gap = DataGap("PREP-C", "DP-1", T0, T0 + HOUR)
        v = verdict(ROOM_C, (summary(98.3),), rows, [gap])
        assert (v.status, v.text) == (
            "review",
            "Review: no action excursions; 2 alert excursions (1 unacknowledged); "
            "completeness 98.3 %; 1 data gap",
        )

    def test_grade_a_gap_is_not_in_control(self) -> None:
        """A data gap in Grade A (Annex 1 §9.17) makes the room not in control."""
        gaps = [
            DataGap("FILL-A", "PC-1", T0, T0 + 5 * MIN),
            DataGap("FILL-A", "PC-1", T0 + 9 * MIN, T0 + 20 * MIN),
        ]
        v = verdict(ROOM_A, (summary(81.6),), [], gaps)
        assert (v.status, v.text) == (
            "not_in_control",
            "NOT IN CONTROL: Grade A monitoring interrupted: 2 data gaps; completeness 81.6 %",
        )

    def test_no_sensors(self) -> None:
        """A room without sensors cannot be shown in control."""
        v = verdict(ROOM_C, (), [], [])
        assert (v.status, v.text) == ("review", "Review: no action excursions; no sensors")


class TestBuildReport:
    def test_window_must_be_ordered(self) -> None:
        """'from' not before 'to' is refused."""
        with pytest.raises(ValueError, match="before"):
            build_report(inputs(to_ns=T0))

    def test_rooms_and_excursions_sorted(self) -> None:
        """Rooms by id, excursions by start then room: input order does not matter."""
        ex = (
            AckedExcursion(excursion("late", start_ns=T0 + 30 * MIN)),
            AckedExcursion(
                excursion("early", room="PREP-C", parameter="diff_pressure", start_ns=T0 + MIN)
            ),
        )
        report = build_report(inputs(rooms=(ROOM_C, ROOM_A), sensors=(PC, TH, DP), excursions=ex))
        assert [r.room for r in report.rooms] == ["FILL-A", "PREP-C"]
        assert [r.excursion.id for r in report.excursions] == ["early", "late"]
        assert not report.excursions[0].acknowledged

    def test_charts_carry_limits_per_state_span(self) -> None:
        """Each chart has the limits of the state in force over each span, and its excursions."""
        lines_rest = LimitLines(action_high=3520.0)
        lines_op = LimitLines(alert_high=2000.0, action_high=352000.0)
        changes = (RoomStateChange(T0 + 30 * MIN, "site1", "FILL-A", RoomState.AT_REST),)
        report = build_report(
            inputs(
                sensors=(PC,),
                state_changes=changes,
                excursions=(AckedExcursion(excursion("e1")),),
                limits={
                    ("FILL-A", "particles_0_5um", StateInForce.AT_REST): lines_rest,
                    ("FILL-A", "particles_0_5um", StateInForce.IN_OPERATION): lines_op,
                },
            )
        )
        chart = report.charts[0]
        assert (chart.room, chart.parameter) == ("FILL-A", "particles_0_5um")
        assert chart.limit_spans == (
            (StateSpan(StateInForce.IN_OPERATION, T0, T0 + 30 * MIN), lines_op),
            (StateSpan(StateInForce.AT_REST, T0 + 30 * MIN, T0 + HOUR), lines_rest),
        )
        assert [e.id for e in chart.excursions] == ["e1"]
        assert report.charts[1].limit_spans[0][1] == LimitLines()

    def test_charts_carry_their_sensors_gaps(self) -> None:
        """A chart shows the gaps of its room's sensors of its kind, not other rooms' or kinds'."""
        pc_c = Sensor(id="PC-C", room="PREP-C", kind=Kind.PARTICLES, interval_s=60)
        report = build_report(
            inputs(
                rooms=(ROOM_A, ROOM_C),
                sensors=(PC, TH, pc_c),
                spans=(SensorSpan("FILL-A", "TH-1", T0, T0 + HOUR - 10 * NS_PER_S),),
            )
        )
        charts = {(c.room, c.parameter): c for c in report.charts}
        whole = DataGap("FILL-A", "PC-1", T0, T0 + HOUR)
        assert charts[("FILL-A", "particles_0_5um")].gaps == (whole,)
        assert charts[("FILL-A", "temperature")].gaps == ()
        assert charts[("PREP-C", "particles_0_5um")].gaps == (
            DataGap("PREP-C", "PC-C", T0, T0 + HOUR),
        )


class TestTransients:
    def test_grouped_per_room_equipment_parameter_level_and_side(self) -> None:
        """Count, longest and most extreme peak per group; only those begun in the window."""
        from envmon.alarms.events import Level, Transient
        from envmon.report.transients import TransientSummary, summarize_transients

        def t(start_s: int, length_s: int, peak: float, level: Level = Level.ALERT,
              side: str = "low", equipment: str | None = None) -> Transient:  # fmt: skip
            return Transient("site1", "FILL-A", equipment, "DP-1", "diff_pressure", level, side,
                             T0 + start_s * NS_PER_S, T0 + (start_s + length_s) * NS_PER_S,
                             peak, 3, 12.0 if level is Level.ALERT else 10.0)  # fmt: skip

        given = [
            t(100, 30, 9.0), t(700, 50, 11.0), t(100, 20, 8.0, Level.ACTION),
            t(200, 10, 30.0, side="high"), t(300, 40, 5.0, equipment="ISO-1"),
            t(-60, 30, 1.0), t(3600, 30, 1.0),
        ]  # fmt: skip
        summaries = summarize_transients(given, T0, T0 + HOUR)
        assert summaries == (
            TransientSummary("FILL-A", None, "diff_pressure", Level.ALERT, "high", 1, 10.0,
                             30.0, 12.0),
            TransientSummary("FILL-A", None, "diff_pressure", Level.ALERT, "low", 2, 50.0,
                             9.0, 12.0),
            TransientSummary("FILL-A", None, "diff_pressure", Level.ACTION, "low", 1, 20.0,
                             8.0, 10.0),
            TransientSummary("FILL-A", "ISO-1", "diff_pressure", Level.ALERT, "low", 1, 40.0,
                             5.0, 12.0),
        )  # fmt: skip
        report = build_report(inputs(sensors=(PC,), transients=tuple(given)))
        assert report.transients == summaries
