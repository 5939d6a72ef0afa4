"""The alarm engine: facility limits, room states, faults, comm loss, ack, restart."""

from __future__ import annotations

import pytest

from envmon.alarms.engine import COMM_LOSS, SENSOR_FAULT, AlarmEngine
from envmon.alarms.errors import AlarmAlreadyClosed, UnknownAlarm
from envmon.alarms.events import AlarmEvent, AlarmState, Level, Transition
from envmon.errors import ConfigError
from envmon.facility import Facility, parse_facility
from envmon.readings import NS_PER_S, Kind, Reading, RoomState, RoomStateChange, StateInForce
from tests.support.signing import signature

FACILITY = """
site = "site1"

[[rooms]]
id = "FILL-A"
grade = "A"
reference = "BG-B"

[rooms.limits.diff_pressure]
alert_low = 12.0
action_low = 10.0
delay_s = 60

[rooms.limits.particles_5_0um]
consecutive = 2

[[rooms]]
id = "BG-B"
grade = "B"
default_state = "at_rest"

[[sensors]]
id = "PC-FILL-1"
room = "FILL-A"
kind = "particles"
interval_s = 60
stale_after_s = 180

[[sensors]]
id = "DP-FILL-1"
room = "FILL-A"
kind = "pressure"
interval_s = 10
stale_after_s = 30

[[sensors]]
id = "PC-B-1"
room = "BG-B"
kind = "particles"
"""
T0 = 1_800_000_000 * NS_PER_S


def facility(text: str = FACILITY) -> Facility:
    return parse_facility(text)


def at(seconds: float) -> int:
    return T0 + int(seconds * NS_PER_S)


def particles(
    t: float, p50: float, room: str = "FILL-A", sensor: str = "PC-FILL-1", status: str = "ok"
) -> Reading:
    return Reading(
        ts_ns=at(t),
        site="site1",
        room=room,
        grade="A",
        sensor=sensor,
        kind=Kind.PARTICLES,
        values={"particles_0_5um": 0.0, "particles_5_0um": p50} if status == "ok" else {},
        sample_volume_l=28.3,
        status=status,
        received_ns=at(t) + 500_000_000,
    )


def pressure(t: float, pa: float) -> Reading:
    return Reading(at(t), "site1", "FILL-A", "A", "DP-FILL-1", Kind.PRESSURE, {"diff_pressure": pa})


def summary(events: list[AlarmEvent]) -> list[tuple[str, str, str]]:
    return [(e.transition.value, e.alarm.parameter, e.alarm.level.value) for e in events]


class TestJudging:
    def test_grade_a_5um_needs_two_consecutive(self) -> None:
        """One count of ≥5.0 µm (35/m³) is not an alarm; two in a row are an action alarm."""
        eng = AlarmEngine(facility())
        assert eng.on_reading(particles(0, 35.3)) == []
        assert eng.on_reading(particles(60, 0)) == []
        assert eng.on_reading(particles(120, 35.3)) == []
        events = eng.on_reading(particles(180, 70.7))
        assert summary(events) == [("raised", "particles_5_0um", "action")]
        assert events[0].alarm.limit == 29
        assert events[0].excursion is not None and events[0].excursion.start_ns == at(120)

    def test_door_dip_shorter_than_delay_does_not_alarm(self) -> None:
        """A 20 s pressure dip under a 60 s delay raises nothing; a 60 s one raises both levels."""
        eng = AlarmEngine(facility())
        events: list[AlarmEvent] = []
        for t, pa in [(0, 15), (10, 8), (20, 8), (30, 15), (40, 15)]:
            events += eng.on_reading(pressure(t, pa))
        assert events == []
        for t, pa in [(100, 9), (130, 9), (160, 9), (170, 15)]:
            events += eng.on_reading(pressure(t, pa))
        assert summary(events) == [
            ("raised", "diff_pressure", "alert"),
            ("raised", "diff_pressure", "action"),
            ("cleared", "diff_pressure", "alert"),
            ("cleared", "diff_pressure", "action"),
        ]
        assert events[1].alarm.raised_ns == at(160)
        assert events[3].excursion is not None
        assert events[3].excursion.start_ns == at(100)
        assert events[3].excursion.duration_s == 70

    def test_unknown_room_is_not_judged(self) -> None:
        """A reading from a room the facility does not list raises nothing."""
        eng = AlarmEngine(facility())
        assert eng.on_reading(particles(0, 1e9, room="NOWHERE")) == []

    def test_sensor_missing_from_facility_is_judged_by_its_room(self) -> None:
        """A sensor not in the facility file still gets its room's limits."""
        eng = AlarmEngine(facility())
        eng.on_reading(particles(0, 35.3, sensor="PC-NEW"))
        assert summary(eng.on_reading(particles(60, 35.3, sensor="PC-NEW"))) == [
            ("raised", "particles_5_0um", "action")
        ]

    def test_duplicate_reading_is_ignored(self) -> None:
        """A redelivered reading does not count as the second consecutive sample."""
        eng = AlarmEngine(facility())
        eng.on_reading(particles(0, 35.3))
        assert eng.on_reading(particles(0, 35.3)) == []
        assert eng.on_reading(particles(-60, 35.3)) == []
        assert len(eng.on_reading(particles(60, 35.3))) == 1


def fine(events: list[AlarmEvent]) -> list[AlarmEvent]:
    """The events of the ≥5.0 µm channel only (the one ``particles`` sets)."""
    return [e for e in events if e.alarm.parameter == "particles_5_0um"]


class TestRoomState:
    def test_default_state_until_known(self) -> None:
        """A room is in its default_state until a state arrives; without one, unknown."""
        eng = AlarmEngine(facility())
        assert eng.room_state("BG-B", at(0)) is StateInForce.AT_REST
        assert eng.room_state("FILL-A", at(0)) is StateInForce.UNKNOWN
        assert (
            eng.on_room_state(RoomStateChange(at(0), "site1", "BG-B", RoomState.IN_OPERATION)) == []
        )
        assert eng.room_state("BG-B", at(0)) is StateInForce.IN_OPERATION

    def test_unknown_state_judges_by_the_strictest_limits(self) -> None:
        """Grade B ≥5.0 µm, state unknown: 100/m³ is beyond the at-rest 29 and raises,
        with room_state unknown; once in operation (2 930) the same value clears."""
        eng = AlarmEngine(facility(FACILITY.replace('default_state = "at_rest"\n', "")))
        [raised] = fine(eng.on_reading(particles(0, 100, room="BG-B", sensor="PC-B-1")))
        assert (raised.alarm.room_state, raised.alarm.limit) == ("unknown", 29.0)
        eng.on_room_state(RoomStateChange(at(30), "site1", "BG-B", RoomState.IN_OPERATION))
        [cleared] = fine(eng.on_reading(particles(60, 100, room="BG-B", sensor="PC-B-1")))
        assert cleared.transition.value == "cleared"

    def test_clean_up_keeps_in_operation_limits_for_clean_up_s(self) -> None:
        """After in operation to at rest, 1 000/m³ (≥5.0 µm) passes for clean_up_s (600 s) and is
        judged against at rest from then on; the alarm says clean_up when raised in it."""
        text = FACILITY.replace('default_state = "at_rest"', "clean_up_s = 600")
        eng = AlarmEngine(facility(text))
        for ts, state in ((0, RoomState.IN_OPERATION), (100, RoomState.AT_REST)):
            eng.on_room_state(RoomStateChange(at(ts), "site1", "BG-B", state))
        assert fine(eng.on_reading(particles(699, 1000, room="BG-B", sensor="PC-B-1"))) == []
        [raised] = fine(eng.on_reading(particles(700, 1000, room="BG-B", sensor="PC-B-1")))
        assert (raised.alarm.room_state, raised.alarm.limit) == ("at_rest", 29.0)
        eng2 = AlarmEngine(facility(text))
        for ts, state in ((0, RoomState.IN_OPERATION), (100, RoomState.AT_REST)):
            eng2.on_room_state(RoomStateChange(at(ts), "site1", "BG-B", state))
        [raised] = fine(eng2.on_reading(particles(200, 4000, room="BG-B", sensor="PC-B-1")))
        assert (raised.alarm.room_state, raised.alarm.limit) == ("clean_up", 2930.0)

    def test_state_applies_from_its_timestamp(self) -> None:
        """Grade B: 1000/m³ is beyond at rest, within in operation, from the change's time on."""
        eng = AlarmEngine(facility())
        eng.on_room_state(RoomStateChange(at(100), "site1", "BG-B", RoomState.IN_OPERATION))
        raised = eng.on_reading(particles(50, 1000, room="BG-B", sensor="PC-B-1"))
        assert summary(raised) == [("raised", "particles_5_0um", "action")]
        assert raised[0].alarm.room_state == "at_rest"
        cleared = eng.on_reading(particles(100, 1000, room="BG-B", sensor="PC-B-1"))
        assert summary(cleared) == [("cleared", "particles_5_0um", "action")]

    def test_limits_query(self) -> None:
        """The engine exposes the resolved limits it judges by."""
        eng = AlarmEngine(facility())
        lim = eng.limits("BG-B", "particles_5_0um", RoomState.IN_OPERATION)
        assert lim is not None and lim.action_high == 2930


class TestSensorFault:
    def test_fault_raises_and_next_ok_clears(self) -> None:
        """A faulted reading raises a fault alarm and is not judged; the next ok one clears it."""
        eng = AlarmEngine(facility())
        raised = eng.on_reading(particles(0, 0, status="laser_fault"))
        assert summary(raised) == [("raised", SENSOR_FAULT, "fault")]
        assert raised[0].alarm.detail == "sensor reports laser_fault"
        assert eng.on_reading(particles(30, 0, status="laser_fault")) == []
        assert summary(eng.on_reading(particles(60, 0))) == [("cleared", SENSOR_FAULT, "fault")]

    def test_faulted_values_are_not_judged(self) -> None:
        """Values in a faulted reading never raise a limit alarm."""
        eng = AlarmEngine(facility())
        r = Reading(
            at(0),
            "site1",
            "FILL-A",
            "A",
            "DP-FILL-1",
            Kind.PRESSURE,
            {"diff_pressure": -50},
            status="sensor_fault",
        )
        assert summary(eng.on_reading(r)) == [("raised", SENSOR_FAULT, "fault")]


class TestCommLoss:
    def test_silent_sensor_raises_and_next_reading_clears(self) -> None:
        """A sensor silent past stale_after_s raises comm loss once; its next reading clears it."""
        eng = AlarmEngine(facility(), start_ns=at(0))
        eng.on_reading(particles(0, 0))
        eng.on_reading(pressure(0, 15))
        assert eng.check_stale(at(25)) == []
        events = eng.check_stale(at(31))
        assert summary(events) == [("raised", COMM_LOSS, "comm_loss")]
        assert events[0].alarm.sensor == "DP-FILL-1"
        assert events[0].alarm.limit == 30
        assert eng.check_stale(at(60)) == []
        assert summary(eng.on_reading(pressure(61, 15))) == [("cleared", COMM_LOSS, "comm_loss")]

    def test_silence_measured_by_receive_time(self) -> None:
        """Silence is measured from the receive time, not the sensor's timestamp."""
        eng = AlarmEngine(facility(), start_ns=at(0))
        eng.on_reading(particles(0, 0))  # received at 0.5 s
        assert {e.alarm.sensor for e in eng.check_stale(at(180.4))} == {"DP-FILL-1", "PC-B-1"}
        assert [e.alarm.sensor for e in eng.check_stale(at(180.6))] == ["PC-FILL-1"]

    def test_never_heard_counts_from_start(self) -> None:
        """A sensor never heard from is silent since the engine started."""
        eng = AlarmEngine(facility(), start_ns=at(0))
        assert eng.check_stale(at(29)) == []
        raised = eng.check_stale(at(31))
        assert [e.alarm.sensor for e in raised] == ["DP-FILL-1"]
        assert "since start" in raised[0].alarm.detail
        later = eng.check_stale(at(181))
        assert {e.alarm.sensor for e in later} == {"PC-FILL-1", "PC-B-1"}

    def test_default_start_is_first_check(self) -> None:
        """Without start_ns the first check is the start: nothing is stale yet."""
        eng = AlarmEngine(facility())
        assert eng.check_stale(at(1000)) == []
        assert len(eng.check_stale(at(1031))) == 1


class TestAck:
    def test_ack_before_return_to_normal(self) -> None:
        """Acked while active, the alarm closes on return to normal."""
        eng = AlarmEngine(facility())
        eng.on_reading(particles(0, 35.3))
        (raised,) = eng.on_reading(particles(60, 35.3))
        (acked,) = eng.acknowledge(raised.alarm.id, signature("ann"), at(70))
        assert acked.alarm.state is AlarmState.ACTIVE_ACKED
        events = eng.on_reading(particles(120, 0))
        assert [e.transition for e in events] == [Transition.CLEARED, Transition.CLOSED]
        assert eng.open_alarms() == []

    def test_ack_after_return_to_normal(self) -> None:
        """Back to normal, the alarm stays latched until the ack closes it."""
        eng = AlarmEngine(facility())
        eng.on_reading(particles(0, 35.3))
        (raised,) = eng.on_reading(particles(60, 35.3))
        assert eng.active_count() == 1
        eng.on_reading(particles(120, 0))
        assert [a.state for a in eng.open_alarms()] == [AlarmState.CLEARED_UNACKED]
        assert eng.active_count() == 0  # open, latched, but not active
        events = eng.acknowledge(raised.alarm.id.upper(), signature("ann"), at(200))
        assert [e.transition for e in events] == [Transition.ACKED, Transition.CLOSED]
        assert eng.open_alarms() == []
        with pytest.raises(AlarmAlreadyClosed):
            eng.acknowledge(raised.alarm.id, signature("ann"), at(300))

    def test_unknown_id(self) -> None:
        """An id the engine never raised is refused."""
        with pytest.raises(UnknownAlarm):
            AlarmEngine(facility()).acknowledge("0123456789", signature("ann"), at(0))


class TestRestore:
    def _raise_then_snapshot(self) -> tuple[AlarmEngine, list[AlarmEvent]]:
        eng = AlarmEngine(facility())
        eng.on_reading(particles(0, 35.3))
        events = eng.on_reading(particles(60, 70.7))
        events += eng.on_reading(pressure(0, 15))
        events += eng.on_reading(
            particles(90, 0, status="flow_fault", sensor="PC-B-1", room="BG-B")
        )
        return eng, events

    def test_ongoing_excursion_is_not_raised_twice(self) -> None:
        """After a restart the same alarm continues and clears on the first reading within."""
        eng, events = self._raise_then_snapshot()
        (raised,) = [e for e in events if e.alarm.level is Level.ACTION]
        assert raised.excursion is not None
        restarted = AlarmEngine(facility(), eng.open_alarms(), open_excursions=[raised.excursion])
        assert restarted.on_reading(particles(120, 35.3)) == []
        assert restarted.on_reading(particles(60, 70.7)) == []
        (cleared,) = restarted.on_reading(particles(180, 0))
        assert cleared.alarm.id == raised.alarm.id
        assert cleared.excursion is not None
        assert (cleared.excursion.start_ns, cleared.excursion.peak) == (at(0), 70.7)
        assert cleared.excursion.samples == 3

    def test_restore_without_excursion_uses_alarm(self) -> None:
        """Without the journal's excursion the alarm's own raise time and peak stand in."""
        eng, _ = self._raise_then_snapshot()
        restarted = AlarmEngine(facility(), eng.open_alarms())
        (cleared,) = restarted.on_reading(particles(180, 0))
        assert cleared.excursion is not None
        assert cleared.excursion.start_ns == at(60)
        assert cleared.excursion.peak == 70.7

    def test_restored_fault_clears_on_ok_reading(self) -> None:
        """A restored fault alarm is not raised again and clears on the next ok reading."""
        eng, _ = self._raise_then_snapshot()
        restarted = AlarmEngine(facility(), eng.open_alarms())
        assert (
            restarted.on_reading(
                particles(100, 0, status="flow_fault", sensor="PC-B-1", room="BG-B")
            )
            == []
        )
        cleared = restarted.on_reading(particles(160, 0, sensor="PC-B-1", room="BG-B"))
        assert summary(cleared) == [("cleared", SENSOR_FAULT, "fault")]

    def test_restored_comm_loss_is_not_raised_again(self) -> None:
        """A restored comm-loss alarm stays one alarm and clears on the next reading."""
        eng = AlarmEngine(facility(), start_ns=at(0))
        (lost,) = eng.check_stale(at(31))
        restarted = AlarmEngine(facility(), eng.open_alarms(), start_ns=at(40))
        assert all(e.alarm.sensor != "DP-FILL-1" for e in restarted.check_stale(at(500)))
        cleared = restarted.on_reading(pressure(501, 15))
        assert [e.alarm.id for e in cleared] == [lost.alarm.id]

    def test_latched_alarm_is_restored_for_ack(self) -> None:
        """A cleared-unacked alarm comes back open and can be acknowledged."""
        eng, events = self._raise_then_snapshot()
        eng.on_reading(particles(120, 0))
        restarted = AlarmEngine(facility(), eng.open_alarms())
        (raised,) = [e for e in events if e.alarm.level is Level.ACTION]
        assert [
            e.transition for e in restarted.acknowledge(raised.alarm.id, signature("ann"), at(300))
        ] == [
            Transition.ACKED,
            Transition.CLOSED,
        ]


class TestReload:
    def test_channel_state_survives_reload(self) -> None:
        """A pending consecutive count and an active alarm survive replace_facility."""
        eng = AlarmEngine(facility())
        eng.on_reading(pressure(0, 9))
        eng.replace_facility(facility(FACILITY + "\n"))
        events = eng.on_reading(pressure(60, 9))
        assert summary(events) == [
            ("raised", "diff_pressure", "alert"),
            ("raised", "diff_pressure", "action"),
        ]

    def test_new_limits_apply_after_reload(self) -> None:
        """A tightened limit judges the next reading."""
        eng = AlarmEngine(facility())
        assert eng.on_reading(particles(0, 20)) == []
        eng.replace_facility(facility(FACILITY.replace("consecutive = 2", "action_high = 10")))
        assert summary(eng.on_reading(particles(60, 20))) == [
            ("raised", "particles_5_0um", "action")
        ]

    def test_removed_room_clears_on_next_reading(self) -> None:
        """An active alarm of a room no longer listed clears on its next reading."""
        eng = AlarmEngine(facility())
        eng.on_reading(particles(0, 1000, room="BG-B", sensor="PC-B-1"))
        smaller = FACILITY[: FACILITY.index('[[rooms]]\nid = "BG-B"')].replace(
            'reference = "BG-B"\n', ""
        )
        smaller += '[[sensors]]\nid = "PC-FILL-1"\nroom = "FILL-A"\nkind = "particles"\n'
        eng.replace_facility(facility(smaller))
        assert summary(eng.on_reading(particles(60, 1000, room="BG-B", sensor="PC-B-1"))) == [
            ("cleared", "particles_5_0um", "action")
        ]

    def test_bad_reload_changes_nothing(self) -> None:
        """A reload whose limits do not resolve raises ConfigError and keeps the old limits."""
        eng = AlarmEngine(facility())
        bad = FACILITY.replace("consecutive = 2", "alert_high = 100")
        with pytest.raises(ConfigError, match="alert_high 100"):
            eng.replace_facility(facility(bad))
        eng.on_reading(particles(0, 35.3))
        assert len(eng.on_reading(particles(60, 35.3))) == 1
