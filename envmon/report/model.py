"""The QA excursion report's figures, computed from plain values.

``build_report`` is pure: every figure of the report is computed here from
plain inputs (InfluxDB aggregates, journal records, the facility), so the
unit tests can check each one. The value types live in ``values.py`` (and are
re-exported here), the verdict line in ``verdict.py``, queries in
``queries.py``, rendering in the ``render_*`` modules.

Rooms and pieces of equipment are summarised alike, each from its own
sensors (a room's sensors are not those on its equipment) and its own
excursions; equipment follows its room's state. Readings that were not
judged are stored but appear only as ``faulted_samples``: InfluxDB holds
their values apart (``<parameter>_raw``), so the aggregates never see them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from envmon.alarms.events import Alarm, Level
from envmon.alarms.room_states import state_spans as room_state_spans
from envmon.facility import Room, Sensor, parameters_of
from envmon.readings import NS_PER_S, RoomStateChange, StateInForce
from envmon.report.alarms import alarms_in_window, of_owner, report_order
from envmon.report.audit_extract import audit_extract
from envmon.report.calibration import sensor_calibrations
from envmon.report.limits import changes_in_window, limits_in_force
from envmon.report.records import AlarmRecord, LimitInterval
from envmon.report.transients import summarize_transients
from envmon.report.values import (
    STATES,
    AckedExcursion,
    Chart,
    DataGap,
    EquipmentSummary,
    ExcursionRow,
    LimitLines,
    ParameterSummary,
    Report,
    ReportInputs,
    RoomSummary,
    SensorCalibration,
    SensorCount,
    SensorSpan,
    SensorStats,
    SeriesPoint,
    Silence,
    StateSpan,
    Verdict,
)
from envmon.report.verdict import verdict
from envmon.sensor_service import ServicePeriod, ServiceStates

__all__ = [
    "STATES", "AckedExcursion", "Chart", "DataGap", "EquipmentSummary", "ExcursionRow",
    "LimitLines", "ParameterSummary", "Report", "ReportInputs", "RoomSummary",
    "SensorCalibration", "SensorCount", "SensorSpan", "SensorStats", "SeriesPoint", "Silence",
    "StateSpan", "Verdict", "build_report", "completeness_pct", "data_gaps", "expected_samples",
    "owner_parameters", "parameter_summary", "room_parameters", "state_spans", "time_in_state",
    "verdict",
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
            key=lambda r: report_order(r.excursion.start_ns, r.excursion),
        )
    )
    gaps = data_gaps(inputs)
    spans_by_room = {
        room.id: state_spans(room, inputs.state_changes, inputs.from_ns, inputs.to_ns)
        for room in rooms
    }
    alarms = alarms_in_window(inputs.alarms, inputs.from_ns, inputs.to_ns, spans_by_room)
    changes = changes_in_window(inputs.config_loads, inputs.from_ns, inputs.to_ns)
    # A restart with an unchanged file is journaled too: only a change counts.
    unsigned = sum(not c.signed and c.changes != () for c in changes)
    summaries = []
    charts = []
    limits: list[LimitInterval] = []
    for room in rooms:
        sensors = [s for s in inputs.sensors if s.room == room.id and s.equipment is None]
        mine = [r for r in excursions if r.excursion.room == room.id and not r.excursion.equipment]
        params = owner_parameters(sensors, mine, inputs)
        figures = tuple(parameter_summary(sensors, p, inputs, mine) for p in params)
        room_gaps = [g for g in gaps if g.room == room.id and g.equipment is None]
        raised = _alarms(of_owner(alarms, room.id, None))
        summaries.append(
            RoomSummary(
                room=room.id,
                name=room.name,
                grade=room.grade_tag,
                parameters=figures,
                time_in_state_s=time_in_state(spans_by_room[room.id]),
                verdict=verdict(room, figures, mine, room_gaps, raised, unsigned),
            )
        )
        intervals = limits_in_force(
            room.id, None, params, spans_by_room[room.id], inputs.limit_loads
        )
        limits += intervals
        charts += _charts(
            room.id, None, params, sensors, mine, gaps, spans_by_room[room.id], inputs, intervals
        )
    equipment = []
    for item in sorted(inputs.equipment, key=lambda e: e.id):
        if item.room not in spans_by_room:
            continue
        sensors = [s for s in inputs.sensors if s.equipment == item.id]
        mine = [r for r in excursions if r.excursion.equipment == item.id]
        params = owner_parameters(sensors, mine, inputs)
        figures = tuple(parameter_summary(sensors, p, inputs, mine) for p in params)
        item_gaps = [g for g in gaps if g.equipment == item.id]
        room = next(r for r in rooms if r.id == item.room)
        raised = _alarms(of_owner(alarms, item.room, item.id))
        intervals = limits_in_force(
            item.room, item.id, params, spans_by_room[item.room], inputs.limit_loads
        )
        limits += intervals
        equipment.append(
            EquipmentSummary(
                equipment=item.id,
                name=item.name,
                type=item.type,
                room=item.room,
                grade=room.grade_tag,
                parameters=figures,
                verdict=verdict(None, figures, mine, item_gaps, raised, unsigned),
            )
        )
        charts += _charts(
            item.room, item.id, params, sensors, mine, gaps, spans_by_room[item.room], inputs,
            intervals,
        )  # fmt: skip
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
        equipment=tuple(equipment),
        calibration=sensor_calibrations(inputs),
        parameters=inputs.parameters,
        alarms=alarms,
        service_periods=_service_periods(inputs),
        limits_in_force=tuple(limits),
        config_changes=changes,
        audit_extract=audit_extract(
            inputs.audit, inputs.from_ns, inputs.to_ns, inputs.audit_foreign, inputs.batch
        ),
        journal_head=inputs.journal_head,
        transients=summarize_transients(inputs.transients, inputs.from_ns, inputs.to_ns),
    )


def _alarms(records: Sequence[AlarmRecord]) -> list[Alarm]:
    return [r.alarm for r in records]


def _service_periods(inputs: ReportInputs) -> tuple[ServicePeriod, ...]:
    """The report's sensors' out-of-service periods overlapping the window, by start."""
    ids = {s.id for s in inputs.sensors}
    return tuple(
        sorted(
            (
                p
                for p in inputs.service_periods
                if p.sensor in ids and p.overlap_ns(inputs.from_ns, inputs.to_ns) > 0
            ),
            key=lambda p: (p.from_ns, p.sensor),
        )
    )


def _charts(
    room: str,
    equipment: str | None,
    params: Sequence[str],
    sensors: Sequence[Sensor],
    excursions: Sequence[ExcursionRow],
    gaps: Sequence[DataGap],
    spans: tuple[StateSpan, ...],
    inputs: ReportInputs,
    intervals: Sequence[LimitInterval] = (),
) -> list[Chart]:
    """One chart per parameter of a room (``equipment`` None) or of a piece of equipment.

    The limit lines are the limits in force (``intervals``) when the journal gave
    them, else ``inputs.limits`` per state span."""
    owner = equipment or room
    out = []
    for p in params:
        measuring = {s.id for s in sensors if p in parameters_of(s)}
        info = inputs.parameters.get(p)
        out.append(
            Chart(
                room=room,
                parameter=p,
                points=tuple(inputs.series.get((owner, p), ())),
                limit_spans=_limit_spans(owner, p, spans, inputs, intervals),
                excursions=tuple(r.excursion for r in excursions if r.excursion.parameter == p),
                gaps=tuple(g for g in gaps if g.sensor in measuring),
                equipment=equipment,
                label=info.label if info is not None else p,
            )
        )
    return out


def _limit_spans(
    owner: str,
    parameter: str,
    spans: tuple[StateSpan, ...],
    inputs: ReportInputs,
    intervals: Sequence[LimitInterval],
) -> tuple[tuple[StateSpan, LimitLines], ...]:
    if inputs.limit_loads:
        return tuple(
            (StateSpan(i.room_state, i.from_ns, i.to_ns), _lines(i))
            for i in intervals
            if i.parameter == parameter
        )
    return tuple(
        (span, inputs.limits.get((owner, parameter, span.state), LimitLines())) for span in spans
    )


def _lines(interval: LimitInterval) -> LimitLines:
    s = interval.limits
    return LimitLines(s.alert_high, s.action_high, s.alert_low, s.action_low)


def room_parameters(room: Room, inputs: ReportInputs) -> list[str]:
    """What a room's own sensors measure, plus any parameter with data or excursions."""
    sensors = [s for s in inputs.sensors if s.room == room.id and s.equipment is None]
    rows = [
        ExcursionRow(e.excursion, e.acked_by, e.acked_ns, e.comment)
        for e in inputs.excursions
        if e.excursion.room == room.id and not e.excursion.equipment
    ]
    return owner_parameters(sensors, rows, inputs)


def owner_parameters(
    sensors: Sequence[Sensor], excursions: Sequence[ExcursionRow], inputs: ReportInputs
) -> list[str]:
    """What the sensors measure, plus any parameter they have data or excursions of;
    in the facility's parameter order (the contract's first)."""
    ids = {s.id for s in sensors}
    present = {p for s in sensors for p in parameters_of(s)}
    present |= {s.parameter for s in inputs.stats if s.sensor in ids}
    present |= {r.excursion.parameter for r in excursions}
    return [p for p in inputs.parameters if p in present]


def expected_samples(sensor: Sensor, from_ns: int, to_ns: int) -> int:
    """Samples a sensor sends in [from, to) at its interval (a partial interval counts not)."""
    interval_ns = round(sensor.interval_s * NS_PER_S)
    return (to_ns - from_ns) // interval_ns


def parameter_summary(
    sensors: Sequence[Sensor],
    parameter: str,
    inputs: ReportInputs,
    excursions: Sequence[ExcursionRow],
) -> ParameterSummary:
    """The sensors combined: counts add up, min/max over all, mean weighted by count.

    Only judged readings are in the aggregates; ``faulted_samples`` counts the
    others of every sensor measuring the parameter.
    """
    measuring = [s for s in sensors if parameter in parameters_of(s)]
    ids = {s.id for s in measuring}
    stats = [s for s in inputs.stats if s.sensor in ids and s.parameter == parameter]
    samples = sum(s.samples for s in stats)
    expected = sum(expected_samples(s, inputs.from_ns, inputs.to_ns) for s in measuring)
    with_data = [s for s in stats if s.samples > 0]
    levels = [r.excursion.level for r in excursions if r.excursion.parameter == parameter]
    info = inputs.parameters.get(parameter)
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
        faulted_samples=_counted(inputs.faulted, ids, None),
        uncalibrated_samples=_counted(inputs.uncalibrated, ids, parameter),
        unit=info.unit if info is not None else "",
        out_of_service_s=sum(
            ServiceStates(inputs.service_periods).out_of_service_s(
                s.id, inputs.from_ns, inputs.to_ns
            )
            for s in measuring
        ),
    )


def _counted(counts: Sequence[SensorCount], sensors: set[str], parameter: str | None) -> int:
    return sum(
        c.samples
        for c in counts
        if c.sensor in sensors and (c.parameter is None or c.parameter == parameter)
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
    window is one gap over the whole window. Points are judged readings.
    """
    spans = {(s.room, s.sensor): s for s in inputs.spans}
    gaps: list[DataGap] = []
    for sensor in inputs.sensors:
        tolerance_ns = inputs.gap_tolerance_intervals * sensor.interval_s * NS_PER_S
        span = spans.get((sensor.room, sensor.id))
        if span is None:
            gaps.append(
                DataGap(sensor.room, sensor.id, inputs.from_ns, inputs.to_ns, sensor.equipment)
            )
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
            DataGap(sensor.room, sensor.id, start, end, sensor.equipment)
            for start, end in candidates
            if end - start > tolerance_ns
        )
    return tuple(sorted(set(gaps), key=lambda g: (g.room, g.sensor, g.start_ns, g.end_ns)))


def state_spans(
    room: Room, changes: tuple[RoomStateChange, ...], from_ns: int, to_ns: int
) -> tuple[StateSpan, ...]:
    """The room's states in force over [from, to) (``alarms/room_states.py``): before
    any known change its ``default_state`` (``unknown`` for strictest), and a clean-up
    period of ``clean_up_s`` after each switch from in operation to at rest."""
    mine = [(c.ts_ns, c.state) for c in changes if c.room == room.id]
    spans = room_state_spans(room.default_room_state, room.clean_up_s, mine, from_ns, to_ns)
    return tuple(StateSpan(state, start, end) for state, start, end in spans)


def time_in_state(spans: tuple[StateSpan, ...]) -> tuple[tuple[StateInForce, float], ...]:
    """Seconds in each state in force, all four always listed."""
    totals = dict.fromkeys(STATES, 0)
    for span in spans:
        totals[span.state] += span.end_ns - span.start_ns
    return tuple((state, totals[state] / NS_PER_S) for state in STATES)
