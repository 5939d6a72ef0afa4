"""AlarmEngine after a restart: readings redelivered by the broker are not judged twice."""

from __future__ import annotations

import json

from envmon.alarms.engine import AlarmEngine
from envmon.alarms.events import Alarm, AlarmEvent, AlarmState, Transition
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


def run_saving(
    engine: AlarmEngine, values: list[float], saved: dict[str, str], first: int = 0
) -> list[AlarmEvent]:
    """Judge like the service: every event is journaled with ``checkpoint()``, and
    ``saved`` (the journal's checkpoint table) keeps the latest text per channel."""
    events = []
    for i, v in enumerate(values, first):
        found = engine.on_reading(reading(i, v))
        if found:
            saved.update(engine.checkpoint())
        events += found
    saved.update(engine.checkpoint())
    return events


def journaled(events: list[AlarmEvent]) -> list[Alarm]:
    """The last state of each alarm, as the journal keeps it."""
    latest: dict[str, Alarm] = {}
    for event in events:
        latest[event.alarm.id] = event.alarm
    return list(latest.values())


class TestRedeliveryAfterRestart:
    def test_redelivered_dip_is_not_raised_again(self) -> None:
        """Restarted from the checkpoint, the redelivered tail of an ended excursion is ignored."""
        saved: dict[str, str] = {}
        first = run_saving(AlarmEngine(FACILITY), DIP, saved)
        assert [e.transition for e in first] == [Transition.RAISED, Transition.CLEARED]
        alarms = journaled(first)
        assert [a.state for a in alarms] == [AlarmState.CLEARED_UNACKED]
        restarted = AlarmEngine(FACILITY, restored=alarms, checkpoint=saved)
        assert run(restarted, DIP[2:], first=2) == []  # 4.0 and 5.5 again, then 15.0 again
        later = run(restarted, [3.0, 15.0], first=10)
        assert [e.transition for e in later] == [Transition.RAISED, Transition.CLEARED]

    def test_without_it_the_redelivered_dip_raises_a_second_alarm(self) -> None:
        """The defect the SIGKILL loop found: without the checkpoint a second alarm is raised."""
        alarms = journaled(run(AlarmEngine(FACILITY), DIP))
        restarted = AlarmEngine(FACILITY, restored=alarms)
        events = run(restarted, DIP[2:], first=2)
        assert Transition.RAISED in [e.transition for e in events]

    def test_a_lost_checkpoint_is_written_again_with_the_next(self) -> None:
        """A checkpoint the journal could not store goes into the next one, even for a
        channel idle by then: otherwise the store would keep the excursion's state."""
        engine = AlarmEngine(FACILITY)
        saved: dict[str, str] = {}
        run_saving(engine, DIP[:2], saved)  # raised: the active state is stored
        run(engine, DIP[2:], first=2)  # cleared: now idle
        engine.checkpoint()  # ... but this one is lost
        engine.checkpoint_lost()
        saved.update(engine.checkpoint())
        assert json.loads(saved["PX/PX1/diff_pressure"]) == {"last_ts_ns": T0 + 4 * NS_PER_S}
        alarms = journaled(run(AlarmEngine(FACILITY), DIP))
        restarted = AlarmEngine(FACILITY, restored=alarms, checkpoint=saved)
        assert run(restarted, DIP[2:], first=2) == []

    def test_unknown_room_in_the_checkpoint_is_ignored(self) -> None:
        """A room no longer in the facility file is skipped, not an error."""
        gone = {"GONE/S/diff_pressure": json.dumps({"last_ts_ns": T0})}
        engine = AlarmEngine(FACILITY, checkpoint=gone)
        assert run(engine, DIP) != []
