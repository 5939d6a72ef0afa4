"""LimitsPoints: the same lines as formatting each limits point afresh, built once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from envmon.alarms.engine import AlarmEngine
from envmon.facility import load_facility, parameters_of
from envmon.gmp import LIMIT_KEYS
from envmon.readings import RoomState, RoomStateChange, StateInForce
from envmon.store.limits_points import LimitsPoints
from envmon.store.lineproto import limits_line

FACILITY = load_facility(Path(__file__).parents[2] / "config" / "facility.toml")
TS = 1_795_550_000_000_000_000


def expected(engine: AlarmEngine, ts_ns: int) -> list[str]:
    """Formatted afresh: every room's measured parameters (contract order), then each of
    its equipment's, with an equipment tag, under the room's state."""
    out = []
    for room in FACILITY.model.rooms:
        state = engine.room_state(room.id, ts_ns)
        measured = {p for s in FACILITY.sensors_in(room.id) for p in parameters_of(s)}
        for parameter in (p for p in FACILITY.parameters if p in measured):
            limits = engine.limits(room.id, parameter, state)
            if limits is None or all(getattr(limits, k) is None for k in LIMIT_KEYS):
                continue
            levels = {k: getattr(limits, k) for k in LIMIT_KEYS}
            out.append(limits_line(FACILITY.site, room.id, parameter, state.value, levels, ts_ns))
        for item in FACILITY.equipment_in(room.id):
            measured = {p for s in FACILITY.sensors_on(item.id) for p in parameters_of(s)}
            for parameter in (p for p in FACILITY.parameters if p in measured):
                limits = engine.equipment_limits(item.id, parameter, state)
                if limits is None or all(getattr(limits, k) is None for k in LIMIT_KEYS):
                    continue
                levels = {k: getattr(limits, k) for k in LIMIT_KEYS}
                out.append(
                    limits_line(
                        FACILITY.site, room.id, parameter, state.value, levels, ts_ns, item.id
                    )
                )
    return out


def state_at(engine: AlarmEngine, ts_ns: int) -> Callable[[str], StateInForce]:
    return lambda room: engine.room_state(room, ts_ns)


def snapshot(points: LimitsPoints, engine: AlarmEngine, ts_ns: int) -> list[str]:
    return list(points.lines(FACILITY.model.rooms, state_at(engine, ts_ns), engine.limits, ts_ns))


def test_equipment_limits_from_the_engine_or_the_facility_agree() -> None:
    """Given the engine's equipment limits or resolving them itself, the lines are the same."""
    engine = AlarmEngine(FACILITY)
    given = list(
        LimitsPoints(FACILITY).lines(
            FACILITY.model.rooms,
            state_at(engine, TS),
            engine.limits,
            TS,
            engine.equipment_limits,
        )
    )
    assert given == snapshot(LimitsPoints(FACILITY), engine, TS)


def test_lines_equal_freshly_formatted_ones() -> None:
    engine = AlarmEngine(FACILITY)
    points = LimitsPoints(FACILITY)
    first = snapshot(points, engine, TS)
    assert first == expected(engine, TS)
    assert len(first) >= 10
    # From the cache: only the timestamp differs.
    assert snapshot(points, engine, TS + 60) == expected(engine, TS + 60)


def test_a_room_state_change_gives_that_state_s_limits() -> None:
    engine = AlarmEngine(FACILITY)
    points = LimitsPoints(FACILITY)
    snapshot(points, engine, TS)
    room = FACILITY.model.rooms[0].id
    engine.on_room_state(
        RoomStateChange(ts_ns=TS, site=FACILITY.site, room=room, state=RoomState.AT_REST)
    )
    # At rest once its clean-up period (in-operation limits) is over.
    at = TS + round(FACILITY.model.rooms[0].clean_up_s * 1e9) + 60
    after = snapshot(points, engine, at)
    assert after == expected(engine, at)
    assert any(f"room={room}" in line and 'state="at_rest"' in line for line in after)
