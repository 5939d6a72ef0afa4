"""AlarmEngine after a restart: readings redelivered by the broker are not judged twice."""

from __future__ import annotations

from envmon.alarms.engine import AlarmEngine, judged_until
from envmon.alarms.events import Alarm, AlarmEvent, AlarmState, Level, Transition
from envmon.facility import parse_facility
from envmon.readings import NS_PER_S, Kind, Reading

FACILITY = parse_facility(
    """
site = "site1"

[[rooms]]
id = "PX"
grade = "B"

[rooms.limits.diff_pressure]
action_low = 10.0

[[sensors]]
id = "PX1"
room = "PX"
kind = "pressure"
"""
)
T0 = 1_795_550_000 * NS_PER_S
DIP = [15.0, 5.0, 4.0, 5.5, 15.0]  # one excursion: raised at 1 s, cleared at 4 s


def reading(i: int, value: float) -> Reading:
    return Reading(
        ts_ns=T0 + i * NS_PER_S,
        site="site1",
        room="PX",
        grade="B",
        sensor="PX1",
        kind=Kind.PRESSURE,
        values={"diff_pressure": value},
        received_ns=T0 + i * NS_PER_S,
    )


def run(engine: AlarmEngine, values: list[float], first: int = 0) -> list[AlarmEvent]:
    return [e for i, v in enumerate(values, first) for e in engine.on_reading(reading(i, v))]


def journaled(events: list[AlarmEvent]) -> list[Alarm]:
    """The last state of each alarm, as the journal keeps it."""
    latest: dict[str, Alarm] = {}
    for event in events:
        latest[event.alarm.id] = event.alarm
    return list(latest.values())


class TestRedeliveryAfterRestart:
    def test_redelivered_dip_is_not_raised_again(self) -> None:
        """Restarted with judged_until, the redelivered tail of an ended excursion is ignored."""
        first = run(AlarmEngine(FACILITY), DIP)
        assert [e.transition for e in first] == [Transition.RAISED, Transition.CLEARED]
        alarms = journaled(first)
        assert [a.state for a in alarms] == [AlarmState.CLEARED_UNACKED]
        restarted = AlarmEngine(FACILITY, restored=alarms, judged_until=judged_until(alarms))
        assert run(restarted, DIP[2:], first=2) == []  # 4.0 and 5.5 again, then 15.0 again
        later = run(restarted, [3.0, 15.0], first=10)
        assert [e.transition for e in later] == [Transition.RAISED, Transition.CLEARED]

    def test_without_it_the_redelivered_dip_raises_a_second_alarm(self) -> None:
        """The defect the SIGKILL loop found: without judged_until a second alarm is raised."""
        alarms = journaled(run(AlarmEngine(FACILITY), DIP))
        restarted = AlarmEngine(FACILITY, restored=alarms)
        events = run(restarted, DIP[2:], first=2)
        assert Transition.RAISED in [e.transition for e in events]

    def test_judged_until_keeps_the_latest_clear_of_limit_alarms_only(self) -> None:
        """Per channel the latest clear time counts; fault and comm-loss alarms do not."""
        base = journaled(run(AlarmEngine(FACILITY), DIP))[0]
        later = Alarm(**{**_fields(base), "id": "b", "cleared_ns": base.cleared_ns + 7})
        fault = Alarm(**{**_fields(base), "id": "c", "level": Level.FAULT, "cleared_ns": 2**62})
        marks = judged_until([base, later, fault])
        assert marks == {("PX", "PX1", "diff_pressure"): base.cleared_ns + 7}

    def test_unknown_room_in_judged_until_is_ignored(self) -> None:
        """A room no longer in the facility file is skipped, not an error."""
        engine = AlarmEngine(FACILITY, judged_until={("GONE", "S", "diff_pressure"): T0})
        assert run(engine, DIP) != []


def _fields(alarm: Alarm) -> dict[str, object]:
    return {name: getattr(alarm, name) for name in Alarm.__dataclass_fields__}
