"""Line protocol encoding: escaping, number formatting and the contract schema."""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envmon.alarms.events import Alarm, AlarmEvent, AlarmState, Level, Transition
from envmon.readings import Kind, Reading, RoomState, RoomStateChange
from envmon.store.lineproto import (
    alarm_line,
    escape_key,
    escape_measurement,
    escape_string_field,
    format_field_value,
    format_float,
    limits_line,
    line,
    reading_line,
    room_state_line,
    stats_line,
)

TS = 1_795_507_200_000_000_000


def particles(**changes: object) -> Reading:
    base: dict[str, object] = {
        "ts_ns": TS,
        "site": "site1",
        "room": "FILL-A",
        "grade": "A",
        "sensor": "PC-FILL-1",
        "kind": Kind.PARTICLES,
        "values": {"particles_0_5um": 1413.4, "particles_5_0um": 0.0},
        "sample_volume_l": 28.3,
    }
    base.update(changes)
    return Reading(**base)  # type: ignore[arg-type]


def pressure(values: dict[str, float], status: str = "ok") -> Reading:
    return Reading(
        ts_ns=TS,
        site="site1",
        room="PREP-C",
        grade="C",
        sensor="DP-1",
        kind=Kind.PRESSURE,
        values=values,
        status=status,
    )


def split_unescaped(text: str, sep: str) -> list[str]:
    """Split at ``sep`` not preceded by a backslash (how InfluxDB's parser reads it)."""
    parts, cur, i = [], "", 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            cur += text[i : i + 2]
            i += 2
            continue
        if text[i] == sep:
            parts.append(cur)
            cur = ""
        else:
            cur += text[i]
        i += 1
    parts.append(cur)
    return parts


class TestEscaping:
    def test_measurement_escapes_comma_and_space_only(self) -> None:
        """A measurement name escapes comma and space but keeps an equals sign."""
        assert escape_measurement("my meas,x=y") == r"my\ meas\,x=y"

    def test_key_escapes_comma_equals_space(self) -> None:
        """Tag keys, tag values and field keys escape comma, equals sign and space."""
        assert escape_key("a b,c=d") == r"a\ b\,c\=d"

    def test_string_field_escapes_backslash_and_quote(self) -> None:
        """A string field value is quoted with its backslashes and quotes escaped."""
        assert escape_string_field('say "hi" \\o/') == '"say \\"hi\\" \\\\o/"'

    @pytest.mark.parametrize("bad", ["a\nb", "a\rb", "tab\there", "nul\x00", "del\x7f"])
    def test_control_characters_are_refused_in_names(self, bad: str) -> None:
        """A control character in a name is refused rather than starting a new point."""
        with pytest.raises(ValueError, match="control character"):
            escape_key(bad)
        with pytest.raises(ValueError, match="control character"):
            escape_measurement(bad)

    def test_control_characters_are_refused_in_string_fields(self) -> None:
        """A newline in a string field value is refused."""
        with pytest.raises(ValueError, match="control character"):
            escape_string_field("flow\nfault")

    @pytest.mark.parametrize("bad", ["ends\\", "a\\,b", "a\\=b", "a\\ b"])
    def test_ambiguous_backslash_is_refused(self, bad: str) -> None:
        """A backslash the parser would read as escaping a delimiter is refused."""
        with pytest.raises(ValueError, match="backslash"):
            escape_key(bad)

    def test_harmless_backslash_is_kept(self) -> None:
        """A backslash before an ordinary character is literal and kept."""
        assert escape_key("a\\b") == "a\\b"

    def test_empty_name_is_refused(self) -> None:
        """An empty tag value is refused (InfluxDB would refuse the point)."""
        with pytest.raises(ValueError, match="empty"):
            escape_key("")

    @given(
        st.text(
            alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\\"),
            min_size=1,
        )
    )
    def test_hostile_tag_value_stays_one_tag(self, value: str) -> None:
        """Any tag value without control characters or backslashes stays inside its own tag."""
        text = line("m", {"room": value, "site": "s"}, {"v": 1.0}, 0)
        assert "\n" not in text
        sections = split_unescaped(text, " ")
        assert len(sections) == 3
        tags = split_unescaped(sections[0], ",")
        assert len(tags) == 3
        assert split_unescaped(tags[1], "=")[0] == "room"
        assert tags[2] == "site=s"


class TestNumbers:
    @pytest.mark.parametrize(
        ("value", "text"),
        [
            (1413.0, "1413.0"),
            (0.1, "0.1"),
            (-0.0, "-0.0"),
            (1e20, "1e+20"),
            (35.33568904593640, "35.3356890459364"),
        ],
    )
    def test_floats_are_exact_and_never_integers(self, value: float, text: str) -> None:
        """A float is written with repr: exact, and never as an integer literal."""
        assert format_float(value) == text

    @given(st.floats(allow_nan=False, allow_infinity=False))
    def test_float_round_trips(self, value: float) -> None:
        """Every finite float reads back to the same float."""
        assert float(format_float(value)) == value

    @pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
    def test_non_finite_is_refused(self, value: float) -> None:
        """NaN and infinities have no line protocol form and are refused."""
        with pytest.raises(ValueError, match="non-finite"):
            format_float(value)

    def test_field_types(self) -> None:
        """bool, int, float and str each get their own line protocol form."""
        assert format_field_value(True) == "true"
        assert format_field_value(False) == "false"
        assert format_field_value(42) == "42i"
        assert format_field_value(42.0) == "42.0"
        assert format_field_value("x") == '"x"'


class TestLine:
    def test_tags_are_sorted_and_fields_kept_in_order(self) -> None:
        """A point has sorted tags, its fields in the given order, and the timestamp."""
        assert line("m", {"b": "2", "a": "1"}, {"y": 1.5, "x": 2}, 7) == "m,a=1,b=2 y=1.5,x=2i 7"

    def test_no_fields_is_refused(self) -> None:
        """A point without fields is refused."""
        with pytest.raises(ValueError, match="at least one field"):
            line("m", {"a": "1"}, {}, 7)

    def test_timestamp_must_be_int(self) -> None:
        """A float timestamp is refused rather than rounded."""
        with pytest.raises(TypeError):
            line("m", {"a": "1"}, {"v": 1.0}, 7.0)  # type: ignore[arg-type]


class TestReadingLine:
    def test_particles(self) -> None:
        """A particle reading carries both sizes and the sample volume, as floats."""
        assert reading_line(particles()) == (
            "particles,grade=A,room=FILL-A,sensor=PC-FILL-1,site=site1 "
            f"particles_0_5um=1413.4,particles_5_0um=0.0,sample_volume_l=28.3 {TS}"
        )

    def test_integer_values_are_written_as_floats(self) -> None:
        """An int value from a decoder is still stored as a float field."""
        r = particles(values={"particles_0_5um": 1413, "particles_5_0um": 0})
        assert "particles_0_5um=1413.0,particles_5_0um=0.0," in reading_line(r)

    def test_climate_has_no_sample_volume(self) -> None:
        """A climate reading has only its own values."""
        r = Reading(
            ts_ns=TS,
            site="site1",
            room="BG-B",
            grade="B",
            sensor="TH-1",
            kind=Kind.CLIMATE,
            values={"temperature": 20.4, "humidity": 43.0},
        )
        assert reading_line(r) == (
            f"climate,grade=B,room=BG-B,sensor=TH-1,site=site1 temperature=20.4,humidity=43.0 {TS}"
        )

    def test_status_only_when_not_ok(self) -> None:
        """The status field appears for any status but ok."""
        assert "status" not in reading_line(particles())
        assert reading_line(particles(status="flow_fault")).endswith(f',status="flow_fault" {TS}')

    @pytest.mark.parametrize("status", ["flow_fault", "out_of_range", "out_of_service"])
    def test_unjudged_values_go_to_raw_fields(self, status: str) -> None:
        """A reading not judged keeps its values under <parameter>_raw, never the measured field."""
        r = pressure(values={"diff_pressure": 1e308}, status=status)
        assert reading_line(r) == (
            "pressure,grade=C,room=PREP-C,sensor=DP-1,site=site1 "
            f'diff_pressure_raw=1e+308,status="{status}" {TS}'
        )

    def test_calibration_overdue_values_stay_in_the_measured_fields(self) -> None:
        """An overdue reading was judged: its values are measured values, its status marks it."""
        r = particles(status="calibration_overdue")
        assert reading_line(r) == (
            "particles,grade=A,room=FILL-A,sensor=PC-FILL-1,site=site1 particles_0_5um=1413.4,"
            f'particles_5_0um=0.0,sample_volume_l=28.3,status="calibration_overdue" {TS}'
        )

    def test_equipment_reading_has_the_equipment_tag(self) -> None:
        """Measurement equipment, tags site/room/grade/equipment/sensor, one field per id."""
        r = Reading(
            ts_ns=TS,
            site="site1",
            room="PREP-C",
            grade="C",
            sensor="INC-01-S1",
            kind=Kind.EQUIPMENT,
            values={"co2": 5.1, "temperature": 37.0},
            equipment="INC-01",
        )
        assert reading_line(r) == (
            "equipment,equipment=INC-01,grade=C,room=PREP-C,sensor=INC-01-S1,site=site1 "
            f"co2=5.1,temperature=37.0 {TS}"
        )

    def test_faulted_reading_without_values_still_has_a_line(self) -> None:
        """A faulted reading with no values is stored through its status field."""
        r = pressure(values={}, status="sensor_fault")
        assert reading_line(r) == (
            f'pressure,grade=C,room=PREP-C,sensor=DP-1,site=site1 status="sensor_fault" {TS}'
        )

    def test_ok_reading_without_values_is_refused(self) -> None:
        """A reading with neither values nor a fault is refused."""
        with pytest.raises(ValueError, match="no values"):
            reading_line(pressure(values={}))

    @pytest.mark.parametrize("ts_ns", [True, float(TS)])
    def test_timestamp_that_is_not_int_nanoseconds_is_refused(self, ts_ns: object) -> None:
        """A boolean (an int to Python) or float timestamp is refused, not written as 1 or 1e18."""
        with pytest.raises(TypeError, match="timestamp must be int nanoseconds"):
            reading_line(particles(ts_ns=ts_ns))

    def test_non_finite_value_is_refused(self) -> None:
        """A NaN value is refused, not written."""
        with pytest.raises(ValueError, match="non-finite"):
            reading_line(particles(values={"particles_0_5um": math.nan}))

    def test_hostile_sensor_id_cannot_add_a_line(self) -> None:
        """A newline in a sensor id is refused."""
        with pytest.raises(ValueError, match="control character"):
            reading_line(particles(sensor="x\nclimate,room=evil v=1 1"))

    def test_fast_enough(self) -> None:
        """Encoding keeps up with at least 200 000 readings per second (with slack for CI)."""
        readings = [particles(ts_ns=TS + i, sensor=f"PC-{i % 100}") for i in range(50_000)]
        started = time.perf_counter()
        for r in readings:
            reading_line(r)
        rate = len(readings) / (time.perf_counter() - started)
        assert rate > 100_000, f"{rate:.0f} lines/s"


class TestOtherMeasurements:
    def test_room_state(self) -> None:
        """A room state change is a string field on room_state."""
        c = RoomStateChange(TS, "site1", "FILL-A", RoomState.AT_REST)
        assert room_state_line(c) == f'room_state,room=FILL-A,site=site1 state="at_rest" {TS}'

    def test_alarm_with_values(self) -> None:
        """An alarm transition has its tags, state, value, limit and id."""
        alarm = Alarm(
            id="A-1",
            site="site1",
            room="FILL-A",
            sensor="PC-FILL-1",
            parameter="particles_5_0um",
            level=Level.ACTION,
            state=AlarmState.ACTIVE_UNACKED,
            raised_ns=TS,
            limit=29.0,
            value=35.3,
        )
        event = AlarmEvent(Transition.RAISED, alarm, TS + 1)
        assert alarm_line(event) == (
            "alarm,level=action,parameter=particles_5_0um,room=FILL-A,site=site1 "
            f'state="active_unacked",value=35.3,limit=29.0,alarm_id="A-1" {TS + 1}'
        )

    def test_alarm_omits_none_fields(self) -> None:
        """A comm-loss alarm without value or limit has only state and id."""
        alarm = Alarm(
            id="A-2",
            site="site1",
            room="FILL-A",
            sensor="PC-FILL-1",
            parameter="particles_0_5um",
            level=Level.COMM_LOSS,
            state=AlarmState.ACTIVE_UNACKED,
            raised_ns=TS,
        )
        assert alarm_line(AlarmEvent(Transition.RAISED, alarm, TS)).split(" ")[1] == (
            'state="active_unacked",alarm_id="A-2"'
        )

    def test_equipment_alarm_is_tagged_and_says_its_rule(self) -> None:
        """An equipment alarm carries an equipment tag; a rate alarm says rule rate."""
        alarm = Alarm("ab12", "site1", "PREP-C", "FRZ-01-S1", "temperature", Level.ALERT,
                      AlarmState.ACTIVE_UNACKED, TS, limit=1.0, value=2.0, equipment="FRZ-01",
                      rule="rate")  # fmt: skip
        assert alarm_line(AlarmEvent(Transition.RAISED, alarm, TS)) == (
            "alarm,equipment=FRZ-01,level=alert,parameter=temperature,room=PREP-C,site=site1 "
            f'state="active_unacked",value=2.0,limit=1.0,alarm_id="ab12",rule="rate" {TS}'
        )

    def test_equipment_limits_are_tagged(self) -> None:
        """Equipment limits carry an equipment tag beside room and parameter."""
        assert limits_line(
            "site1", "PREP-C", "co2", "in_operation", {"action_low": 4.5}, TS, "INC-01"
        ) == (
            "limits,equipment=INC-01,parameter=co2,room=PREP-C,site=site1 "
            f'action_low=4.5,state="in_operation" {TS}'
        )

    def test_stats(self) -> None:
        """envmon's counters are integers on envmon_stats, tagged by site."""
        assert stats_line("site1", {"written": 5, "fill_pct": 1.5}, TS) == (
            f"envmon_stats,site=site1 written=5i,fill_pct=1.5 {TS}"
        )
