"""The engine on equipment and on status words: out of range, out of service, calibration."""

from __future__ import annotations

from envmon.alarms.engine import AlarmEngine
from envmon.alarms.events import AlarmEvent, Level, Transition
from envmon.facility import parse_facility
from envmon.readings import (
    NS_PER_S,
    STATUS_CALIBRATION_OVERDUE,
    STATUS_OUT_OF_RANGE,
    STATUS_OUT_OF_SERVICE,
    Kind,
    Reading,
    RoomState,
    RoomStateChange,
)
from envmon.sensor_service import ServicePeriod, ServiceStates
from tests.support.signing import signature

FACILITY = parse_facility("""
site = "site1"

[[parameters]]
id = "co2"
unit = "%"
range = [0, 20]

[[rooms]]
id = "PREP-C"
grade = "C"
default_state = "in_operation"
clean_up_s = 0

[rooms.limits.diff_pressure]
action_low = 10.0

[[equipment]]
id = "INC-01"
room = "PREP-C"
type = "incubator"

[equipment.limits.co2]
action_low = 4.5
delay_s = 120

[equipment.limits.co2.at_rest]
delay_s = 0

[[equipment]]
id = "FRZ-01"
room = "PREP-C"
type = "freezer"

[equipment.limits.temperature]
action_high = -60
rate_per_min_high = 1.0

[[sensors]]
id = "INC-01-S1"
equipment = "INC-01"
kind = "equipment"
parameters = ["co2", "temperature"]
stale_after_s = 60

[[sensors]]
id = "FRZ-01-S1"
equipment = "FRZ-01"
kind = "equipment"
parameters = ["temperature"]

[[sensors]]
id = "DP-1"
room = "PREP-C"
kind = "pressure"
range = { diff_pressure = [-50, 50] }
stale_after_s = 60
""")
T0 = 1_800_000_000 * NS_PER_S


def at(seconds: float) -> int:
    return T0 + int(seconds * NS_PER_S)


def incubator(t: float, co2: float, status: str = "ok") -> Reading:
    return Reading(at(t), "site1", "PREP-C", "C", "INC-01-S1", Kind.EQUIPMENT,
                   {"co2": co2, "temperature": 37.0}, None, status, at(t), "INC-01")  # fmt: skip


def freezer(t: float, celsius: float) -> Reading:
    return Reading(at(t), "site1", "PREP-C", "C", "FRZ-01-S1", Kind.EQUIPMENT,
                   {"temperature": celsius}, None, "ok", at(t), "FRZ-01")  # fmt: skip


def pressure(t: float, pa: float, status: str = "ok") -> Reading:
    return Reading(at(t), "site1", "PREP-C", "C", "DP-1", Kind.PRESSURE,
                   {"diff_pressure": pa}, None, status, at(t))  # fmt: skip


def summary(events: list[AlarmEvent]) -> list[tuple[str, str, str]]:
    return [(e.transition.value, e.alarm.parameter, e.alarm.level.value) for e in events]


class TestEquipment:
    def test_equipment_limits_judge_its_sensors_and_alarms_carry_it(self) -> None:
        """CO2 below the incubator's action limit for its delay raises, naming the equipment."""
        eng = AlarmEngine(FACILITY)
        events = [e for t, v in [(0, 5.0), (60, 4.0), (120, 3.9), (180, 4.1)]
                  for e in eng.on_reading(incubator(t, v))]  # fmt: skip
        assert summary(events) == [("raised", "co2", "action")]
        alarm = events[0].alarm
        assert (alarm.equipment, alarm.room, alarm.sensor, alarm.raised_ns) == (
            "INC-01", "PREP-C", "INC-01-S1", at(180)
        )  # fmt: skip
        assert events[0].excursion is not None and events[0].excursion.equipment == "INC-01"
        assert alarm.to_json()["equipment"] == "INC-01"

    def test_room_limits_do_not_apply_to_equipment(self) -> None:
        """The incubator's temperature has no limits of its own: it is not judged."""
        eng = AlarmEngine(FACILITY)
        assert eng.on_reading(incubator(0, 5.0)) == []
        assert eng.equipment_limits("INC-01", "temperature", RoomState.AT_REST) is not None
        assert not eng.equipment_limits("INC-01", "temperature", RoomState.AT_REST).has_limits  # type: ignore[union-attr]

    def test_room_state_applies_to_the_equipment_rules(self) -> None:
        """At rest the incubator's co2 rule has no delay: one reading below raises."""
        eng = AlarmEngine(FACILITY)
        eng.on_room_state(RoomStateChange(at(0), "site1", "PREP-C", RoomState.AT_REST))
        assert summary(eng.on_reading(incubator(10, 4.0))) == [("raised", "co2", "action")]

    def test_freezer_rate_alarm_comes_before_its_limit(self) -> None:
        """Warming at 2 °C/min raises a rate alert at -78 °C, long before -60 °C."""
        eng = AlarmEngine(FACILITY)
        events = [e for i in range(5) for e in eng.on_reading(freezer(60 * i, -80 + 2 * i))]
        assert summary(events) == [("raised", "temperature", "alert")]
        assert events[0].alarm.rule == "rate" and events[0].alarm.equipment == "FRZ-01"

    def test_prime_builds_the_equipment_channels(self) -> None:
        """Every parameter an equipment sensor lists gets its channel before any reading."""
        assert AlarmEngine(FACILITY).prime() == 4


class TestOutOfRange:
    def test_out_of_range_raises_one_fault_and_no_excursion(self) -> None:
        """Readings beyond the sensor's range raise one fault alarm and are never judged."""
        eng = AlarmEngine(FACILITY)
        events = []
        for t, pa in [(0, 1e308), (10, -1e308), (20, 1e12), (30, -5e9)]:
            events += eng.on_reading(pressure(t, pa, STATUS_OUT_OF_RANGE))
        assert summary(events) == [("raised", "sensor_fault", "fault")]
        assert events[0].alarm.detail == (
            "measuring range: diff_pressure 1e+308 outside [-50, 50] Pa"
        )
        assert summary(eng.on_reading(pressure(40, 15.0))) == [("cleared", "sensor_fault", "fault")]


class TestOutOfService:
    def test_out_of_service_readings_raise_nothing_and_are_not_judged(self) -> None:
        """An out-of-service sensor's readings raise no fault and no excursion."""
        eng = AlarmEngine(FACILITY)
        for t in range(0, 300, 10):
            assert eng.on_reading(pressure(t, 0.0, STATUS_OUT_OF_SERVICE)) == []

    def test_out_of_service_sensor_is_not_watched_for_silence(self) -> None:
        """No comm_loss while out of service; back in service, silence counts from then."""
        eng = AlarmEngine(FACILITY, start_ns=at(0))
        eng.on_reading(pressure(0, 15.0))
        out = ServicePeriod("DP-1", from_ns=at(5), until_ns=None, signature=signature())
        eng.set_service_states(ServiceStates([out]))
        assert [e for e in eng.check_stale(at(600)) if e.alarm.sensor == "DP-1"] == []
        back = ServicePeriod("DP-1", from_ns=at(5), until_ns=at(600), signature=signature())
        eng.set_service_states(ServiceStates([back]))
        assert [e for e in eng.check_stale(at(630)) if e.alarm.sensor == "DP-1"] == []
        late = [e for e in eng.check_stale(at(700)) if e.alarm.sensor == "DP-1"]
        assert summary(late) == [("raised", "comm_loss", "comm_loss")]


class TestCalibrationOverdue:
    def test_one_calibration_alarm_and_readings_still_judged(self) -> None:
        """Overdue readings raise one calibration alarm and are judged as usual."""
        eng = AlarmEngine(FACILITY)
        events = eng.on_reading(pressure(0, 15.0, STATUS_CALIBRATION_OVERDUE))
        assert summary(events) == [("raised", "calibration", "calibration")]
        assert events[0].alarm.level is Level.CALIBRATION
        assert eng.on_reading(pressure(10, 15.0, STATUS_CALIBRATION_OVERDUE)) == []
        assert summary(eng.on_reading(pressure(20, 5.0, STATUS_CALIBRATION_OVERDUE))) == [
            ("raised", "diff_pressure", "action")
        ]

    def test_fault_word_leaves_the_calibration_alarm_and_ok_clears_it(self) -> None:
        """A fault does not end the calibration alarm; the first in-date reading does."""
        eng = AlarmEngine(FACILITY)
        eng.on_reading(pressure(0, 15.0, STATUS_CALIBRATION_OVERDUE))
        assert summary(eng.on_reading(pressure(10, 15.0, "sensor_fault"))) == [
            ("raised", "sensor_fault", "fault")
        ]
        events = eng.on_reading(pressure(20, 15.0))
        assert sorted(summary(events)) == [
            ("cleared", "calibration", "calibration"),
            ("cleared", "sensor_fault", "fault"),
        ]
        assert all(e.transition is Transition.CLEARED for e in events)

    def test_restored_calibration_alarm_is_not_raised_again(self) -> None:
        """After a restart the open calibration alarm is kept, not doubled."""
        eng = AlarmEngine(FACILITY)
        (raised,) = eng.on_reading(pressure(0, 15.0, STATUS_CALIBRATION_OVERDUE))
        again = AlarmEngine(FACILITY, restored=[raised.alarm])
        assert again.on_reading(pressure(10, 15.0, STATUS_CALIBRATION_OVERDUE)) == []
