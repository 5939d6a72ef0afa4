"""The QA excursion report's figures, computed from plain values.

``build_report`` is pure: every figure of the report is computed here from
plain inputs (InfluxDB aggregates, journal records, the facility), so the
unit tests can check each one. The value types live in ``values.py`` (and are
re-exported here), the verdict line in ``verdict.py``, queries in
``queries.py``, rendering in the ``render_*`` modules.
"""

from __future__ import annotations

import math

from envmon.alarms.events import Level
from envmon.facility import Room, Sensor
from envmon.readings import (
    KIND_OF_PARAMETER,
    NS_PER_S,
    PARAMETERS,
    PARAMETERS_BY_KIND,
    Kind,
    RoomState,
    RoomStateChange,
)
from envmon.report.values import (
    STATES,
    AckedExcursion,
    Chart,
    DataGap,
    ExcursionRow,
    LimitLines,
    ParameterSummary,
    Report,
    ReportInputs,
    RoomSummary,
    SensorSpan,
    SensorStats,
    SeriesPoint,
    Silence,
    StateSpan,
    Verdict,
)
from envmon.report.verdict import verdict

__all__ = [
    "STATES", "AckedExcursion", "Chart", "DataGap", "ExcursionRow", "LimitLines",
    "ParameterSummary", "Report", "ReportInputs", "RoomSummary", "SensorSpan", "SensorStats",
    "SeriesPoint", "Silence", "StateSpan", "Verdict", "build_report", "completeness_pct",
    "data_gaps", "expected_samples", "parameter_summary", "room_parameters", "state_spans",
    "time_in_state", "verdict",
]  # fmt: skip


def build_report(inputs: ReportInputs) -> Report:
    """Compute every figure of the report; lists come out sorted so output is stable."""
    if inputs.from_ns >= inputs.to_ns:
        raise ValueError("report window: 'from' must be before 'to'")
    rooms = sorted(inputs.rooms, key=lambda r: r.id)
    excursions = tuple(
        sorted(
            (
                ExcursionRow(e.excursion, e.acked_by, e.acked_ns, e.comment)
                for e in inputs.excursions
            ),
            key=lambda r: (
                r.excursion.start_ns,
                r.excursion.room,
                r.excursion.parameter,
                r.excursion.level.value,
                r.excursion.id,
            ),
        )
    )
    gaps = data_gaps(inputs)
    spans_by_room = {
        room.id: state_spans(room, inputs.state_changes, inputs.from_ns, inputs.to_ns)
        for room in rooms
    }
    sensors_of_kind = {
        kind: {(s.room, s.id) for s in inputs.sensors if s.kind is kind} for kind in Kind
    }
    summaries = []
    charts = []
    for room in rooms:
        params = room_parameters(room, inputs)
        room_excursions = [r for r in excursions if r.excursion.room == room.id]
        summaries_of_params = tuple(
            parameter_summary(room, p, inputs, room_excursions) for p in params
        )
        summaries.append(
            RoomSummary(
                room=room.id,
                name=room.name,
                grade=room.grade_tag,
                parameters=summaries_of_params,
                time_in_state_s=time_in_state(spans_by_room[room.id]),
                verdict=verdict(
                    room,
                    summaries_of_params,
                    room_excursions,
                    [g for g in gaps if g.room == room.id],
                ),
            )
        )
        for p in params:
            charts.append(
                Chart(
                    room=room.id,
                    parameter=p,
                    points=tuple(inputs.series.get((room.id, p), ())),
                    limit_spans=tuple(
                        (span, inputs.limits.get((room.id, p, span.state), LimitLines()))
                        for span in spans_by_room[room.id]
                    ),
                    excursions=tuple(
                        r.excursion for r in room_excursions if r.excursion.parameter == p
                    ),
                    gaps=tuple(
                        g
                        for g in gaps
                        if g.room == room.id
                        and (g.room, g.sensor) in sensors_of_kind[KIND_OF_PARAMETER[p]]
                    ),
                )
            )
    return Report(
        batch=inputs.batch,
        from_ns=inputs.from_ns,
        to_ns=inputs.to_ns,
        generated_ns=inputs.generated_ns,
        generated_by=inputs.generated_by,
        envmon_version=inputs.envmon_version,
        config_sha256=inputs.config_sha256,
        facility_sha256=inputs.facility_sha256,
        gap_tolerance_intervals=inputs.gap_tolerance_intervals,
        rooms=tuple(summaries),
        excursions=excursions,
        data_gaps=gaps,
        charts=tuple(charts),
    )


def room_parameters(room: Room, inputs: ReportInputs) -> list[str]:
    """What a room's sensors measure, plus any parameter with data or excursions; contract order."""
    present = {p for s in inputs.sensors if s.room == room.id for p in PARAMETERS_BY_KIND[s.kind]}
    present |= {s.parameter for s in inputs.stats if s.room == room.id}
    present |= {
        e.excursion.parameter
        for e in inputs.excursions
        if e.excursion.room == room.id and e.excursion.parameter in PARAMETERS
    }
    return [p for p in PARAMETERS if p in present]


def expected_samples(sensor: Sensor, from_ns: int, to_ns: int) -> int:
    """Samples a sensor sends in [from, to) at its interval (a partial interval counts not)."""
    interval_ns = round(sensor.interval_s * NS_PER_S)
    return (to_ns - from_ns) // interval_ns


def parameter_summary(
    room: Room, parameter: str, inputs: ReportInputs, room_excursions: list[ExcursionRow]
) -> ParameterSummary:
    """Sensors of a room combined: counts add up, min/max over all, mean weighted by count."""
    stats = [s for s in inputs.stats if s.room == room.id and s.parameter == parameter]
    samples = sum(s.samples for s in stats)
    kind = KIND_OF_PARAMETER[parameter]
    expected = sum(
        expected_samples(s, inputs.from_ns, inputs.to_ns)
        for s in inputs.sensors
        if s.room == room.id and s.kind == kind
    )
    with_data = [s for s in stats if s.samples > 0]
    levels = [r.excursion.level for r in room_excursions if r.excursion.parameter == parameter]
    return ParameterSummary(
        parameter=parameter,
        samples=samples,
        expected_samples=expected,
        completeness_pct=completeness_pct(samples, expected),
        min=min(s.min for s in with_data) if with_data else None,
        max=max(s.max for s in with_data) if with_data else None,
        mean=math.fsum(s.sum for s in with_data) / samples if samples else None,
        alert_excursions=levels.count(Level.ALERT),
        action_excursions=levels.count(Level.ACTION),
    )


def completeness_pct(samples: int, expected: int) -> float | None:
    """Rounded down to 0.1 %: a missing sample never shows as 100.0 %."""
    if expected <= 0:
        return None
    return (samples * 1000 // expected) / 10


def data_gaps(inputs: ReportInputs) -> tuple[DataGap, ...]:
    """Silences longer than ``gap_tolerance_intervals`` x the sensor's interval.

    The window edges count: the time from ``from`` to a sensor's first point
    and from its last point to ``to``; a sensor without any point in the
    window is one gap over the whole window.
    """
    spans = {(s.room, s.sensor): s for s in inputs.spans}
    gaps: list[DataGap] = []
    for sensor in inputs.sensors:
        tolerance_ns = inputs.gap_tolerance_intervals * sensor.interval_s * NS_PER_S
        span = spans.get((sensor.room, sensor.id))
        if span is None:
            gaps.append(DataGap(sensor.room, sensor.id, inputs.from_ns, inputs.to_ns))
            continue
        candidates = [
            (inputs.from_ns, span.first_ns),
            *(
                (s.start_ns, s.end_ns)
                for s in inputs.silences
                if s.room == sensor.room and s.sensor == sensor.id
            ),
            (span.last_ns, inputs.to_ns),
        ]
        gaps.extend(
            DataGap(sensor.room, sensor.id, start, end)
            for start, end in candidates
            if end - start > tolerance_ns
        )
    return tuple(sorted(set(gaps), key=lambda g: (g.room, g.sensor, g.start_ns, g.end_ns)))


def state_spans(
    room: Room, changes: tuple[RoomStateChange, ...], from_ns: int, to_ns: int
) -> tuple[StateSpan, ...]:
    """The room's states over [from, to); before any known change, its ``default_state``."""
    mine = sorted((c for c in changes if c.room == room.id), key=lambda c: c.ts_ns)
    state = room.default_state
    for c in mine:
        if c.ts_ns <= from_ns:
            state = c.state
    spans: list[StateSpan] = []
    start = from_ns
    for c in mine:
        if from_ns < c.ts_ns < to_ns and c.state is not state:
            spans.append(StateSpan(state, start, c.ts_ns))
            state, start = c.state, c.ts_ns
    spans.append(StateSpan(state, start, to_ns))
    return tuple(spans)


def time_in_state(spans: tuple[StateSpan, ...]) -> tuple[tuple[RoomState, float], ...]:
    """Seconds in each state, both states always listed."""
    totals = dict.fromkeys(STATES, 0)
    for span in spans:
        totals[span.state] += span.end_ns - span.start_ns
    return tuple((state, totals[state] / NS_PER_S) for state in STATES)
