"""The facility file: validation with precise errors, per-state limit overrides."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from envmon.errors import ConfigError
from envmon.facility import load_facility, parameters_of, parse_facility
from envmon.readings import RoomState

BASE = """
site = "s1"
[[rooms]]
id = "A1"
grade = "A"
reference = "B1"
[[rooms]]
id = "B1"
grade = "B"
[[sensors]]
id = "P1"
room = "A1"
kind = "pressure"
"""


class TestParseFacility:
    def test_valid_file_gives_lookup_tables_and_hash(self) -> None:
        """Rooms and sensors are found by id; the hash is of the bytes."""
        f = parse_facility(BASE)
        assert set(f.rooms) == {"A1", "B1"} and f.sensors["P1"].room == "A1"
        assert len(f.sha256) == 64
        assert f.sensors["P1"].stale_after == 180.0

    def test_models_given_the_same_keys_share_one_fields_set(self) -> None:
        """Equal records of given keys are one object (memory), each still exact, and a
        copy with an update does not change the original's."""
        f = parse_facility(BASE + '[[sensors]]\nid = "P2"\nroom = "B1"\nkind = "pressure"\n')
        p1, p2 = f.sensors["P1"], f.sensors["P2"]
        assert p1.model_fields_set == {"id", "room", "kind"}
        assert p1.model_fields_set is p2.model_fields_set
        assert f.rooms["A1"].model_fields_set == {"id", "grade", "reference"}
        moved = p1.model_copy(update={"interval_s": 5.0})
        assert moved.model_fields_set == {"id", "room", "kind", "interval_s"}
        assert p2.model_fields_set == {"id", "room", "kind"}

    @pytest.mark.parametrize(
        ("extra", "message"),
        [
            (
                '[[sensors]]\nid = "X"\nroom = "NOPE"\nkind = "climate"\n',
                r"sensors\[1\] \(X\).room: no room 'NOPE'",
            ),
            ('[[rooms]]\nid = "A1"\ngrade = "C"\n', "id 'A1' appears twice"),
            ('[[rooms]]\nid = "C1"\ngrade = "E"\n', r"rooms.2.grade"),
            ('[[rooms]]\nid = "C1"\n', "needs a GMP 'grade'"),
            ('[[rooms]]\nid = "bad id"\ngrade = "C"\n', r"rooms.2.id"),
            ('[[sensors]]\nid = "X"\nroom = "A1"\nkind = "smell"\n', r"sensors.1.kind"),
            (
                '[[sensors]]\nid = "X"\nroom = "A1"\nkind = "climate"\ninterval_s = 0\n',
                r"interval_s",
            ),
        ],
    )
    def test_mistakes_name_the_key(self, extra: str, message: str) -> None:
        """Each mistake is refused with a message naming where it is."""
        with pytest.raises(ConfigError, match=message):
            parse_facility(BASE + extra, Path("/etc/envmon/facility.toml"))

    def test_limit_mistakes_name_the_parameter(self) -> None:
        """Unknown parameters, unknown keys and inverted limits are refused."""
        with pytest.raises(ConfigError, match=r"limits\.smell: unknown parameter"):
            parse_facility(BASE + "[rooms.limits.smell]\nalert_high = 1\n")
        with pytest.raises(ConfigError, match=r"limits\.diff_pressure\.alert_lo: unknown key"):
            parse_facility(
                BASE.replace(
                    'reference = "B1"\n',
                    'reference = "B1"\n[rooms.limits.diff_pressure]\nalert_lo = 1\n',
                )
            )
        with pytest.raises(ConfigError, match=r"alert_low 5\.0 is below action_low 10\.0"):
            parse_facility(
                BASE.replace(
                    'reference = "B1"\n',
                    'reference = "B1"\n[rooms.limits.diff_pressure]\n'
                    "alert_low = 5\naction_low = 10\n",
                )
            )
        with pytest.raises(ConfigError, match="N must not exceed M"):
            parse_facility(
                BASE.replace(
                    'reference = "B1"\n',
                    'reference = "B1"\n[rooms.limits.particles_5_0um]\nn_of_m = [5, 3]\n',
                )
            )

    def test_unknown_reference_room_is_refused(self) -> None:
        """A reference to a room that does not exist is named."""
        with pytest.raises(ConfigError, match=r"reference: no room 'ZZ'"):
            parse_facility(BASE.replace('reference = "B1"', 'reference = "ZZ"'))

    def test_per_state_rule_overrides_only_what_it_names(self) -> None:
        """An in_operation sub-table lays its keys over the parameter's own."""
        text = BASE.replace(
            'reference = "B1"\n',
            'reference = "B1"\n[rooms.limits.diff_pressure]\naction_low = 10\ndelay_s = 60\n'
            "[rooms.limits.diff_pressure.in_operation]\ndelay_s = 30\n",
        )
        limits = parse_facility(text).rooms["A1"].limits["diff_pressure"]
        op = limits.for_state(RoomState.IN_OPERATION)
        rest = limits.for_state(RoomState.AT_REST)
        assert (op.action_low, op.delay_s) == (10, 30)
        assert (rest.action_low, rest.delay_s) == (10, 60)

    def test_bad_toml_and_missing_file(self, tmp_path: Path) -> None:
        """Broken TOML and an unreadable file give one clear line."""
        with pytest.raises(ConfigError, match="not valid TOML"):
            parse_facility("site = ")
        with pytest.raises(ConfigError, match="cannot read facility file"):
            load_facility(tmp_path / "none.toml")

    def test_example_facility_is_valid(self) -> None:
        """The shipped config/facility.toml: the aseptic suite and the cell-processing room."""
        f = load_facility(Path(__file__).parents[2] / "config" / "facility.toml")
        grades = sorted(r.grade or "" for r in f.rooms.values())
        assert grades == ["A", "B", "B", "C", "D", "D"]
        for room in f.rooms:
            assert {s.kind.value for s in f.sensors_in(room)} == {
                "particles",
                "climate",
                "pressure",
            }
        types = sorted(e.type for e in f.equipment_in("CELL-B"))
        assert types == ["bsc", "freezer", "fridge", "incubator", "incubator", "ln2_freezer"]
        assert all(f.sensors_on(e) for e in f.equipment)


EQUIPPED = """
site = "s1"

[[parameters]]
id = "co2"
name = "CO2"
unit = "%"
range = [0, 20]

[[rooms]]
id = "PREP-C"
grade = "C"

[[equipment]]
id = "INC-01"
room = "PREP-C"
type = "incubator"

[equipment.limits.co2]
alert_low = 4.7
action_low = 4.5
rate_per_min_low = -0.5

[[sensors]]
id = "INC-01-S1"
equipment = "INC-01"
kind = "equipment"
parameters = ["co2", "temperature"]
calibration_due = 2027-06-30
certificate = "CAL-2026-0412"
"""
FILE = Path("/etc/envmon/facility.toml")


def refused(text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_facility(text, FILE)
    return str(exc.value)


class TestCustomParameters:
    def test_declared_parameter_joins_the_built_in_ones(self) -> None:
        """A declared parameter has its name, unit and range; the five built-in ones stay."""
        f = parse_facility(EQUIPPED)
        co2 = f.parameters["co2"]
        assert (co2.name, co2.unit, co2.range, co2.builtin) == ("CO2", "%", (0.0, 20.0), False)
        assert list(f.parameters)[:5] == [
            "particles_0_5um", "particles_5_0um", "temperature", "humidity", "diff_pressure"
        ]  # fmt: skip
        assert f.parameters["temperature"].range == (-100.0, 200.0)

    @pytest.mark.parametrize(
        ("ident", "message"),
        [
            ("CO2", r"parameters\.0\.id: String should match pattern"),
            ("co-2", r"parameters\.0\.id: String should match pattern"),
            ("temperature", r"parameters\[0\] \(temperature\)\.id: 'temperature' is a built-in"),
            ("status", r"parameters\[0\] \(status\)\.id: 'status' is a name envmon uses"),
            (
                "co2_raw",
                r"parameters\[0\] \(co2_raw\)\.id: 'co2_raw': ids ending in '_raw' are reserved",
            ),
        ],
    )
    def test_bad_ids_are_refused_with_file_and_key(self, ident: str, message: str) -> None:
        """Ids outside [a-z0-9_]+, built-in names and envmon's own names are refused."""
        text = EQUIPPED.replace('id = "co2"', f'id = "{ident}"', 1)
        assert re.search(r"^/etc/envmon/facility\.toml: " + message, refused(text), re.MULTILINE)

    def test_unit_and_range_are_required_and_checked(self) -> None:
        """A declaration without a unit or with an inverted range names the key."""
        assert "parameters.0.unit: required key is missing" in refused(
            EQUIPPED.replace('unit = "%"\n', "")
        )
        assert "parameters.0.unit: String should have at least 1 character" in refused(
            EQUIPPED.replace('unit = "%"', 'unit = ""')
        )
        assert "parameters[0] (co2).range: [20, 0] must be two finite numbers, low first" in (
            refused(EQUIPPED.replace("range = [0, 20]", "range = [20, 0]"))
        )

    def test_twice_declared_parameter_is_refused(self) -> None:
        """The same id declared twice is named."""
        text = EQUIPPED.replace(
            "[[rooms]]", '[[parameters]]\nid = "co2"\nunit = "ppm"\nrange = [0, 1]\n\n[[rooms]]', 1
        )
        assert "parameters: id 'co2' appears twice" in refused(text)

    def test_limits_on_unknown_parameters_name_what_is_known(self) -> None:
        """Room and equipment limits of an undeclared parameter list the known ones."""
        message = refused(EQUIPPED.replace("[equipment.limits.co2]", "[equipment.limits.o2]"))
        assert (
            "equipment[0] (INC-01).limits.o2: unknown parameter (built in: particles_0_5um, "
            "particles_5_0um, temperature, humidity, diff_pressure; declared: co2)"
        ) in message
        message = refused(EQUIPPED + '\n[[rooms]]\nid = "X"\ngrade = "D"\n[rooms.limits.o2]\n')
        assert "rooms[1] (X).limits.o2: unknown parameter" in message

    def test_custom_parameter_limits_are_allowed_in_rooms(self) -> None:
        """A room may carry limits of a declared parameter (e.g. its own CO2 monitor)."""
        text = EQUIPPED.replace(
            'grade = "C"\n', 'grade = "C"\n[rooms.limits.co2]\naction_high = 1\n'
        )
        assert parse_facility(text).rooms["PREP-C"].limits["co2"].action_high == 1


class TestEquipment:
    def test_sensor_on_equipment_is_in_the_equipment_room(self) -> None:
        """A sensor on equipment gets the equipment's room; lookups find it both ways."""
        f = parse_facility(EQUIPPED)
        sensor = f.sensors["INC-01-S1"]
        assert (sensor.room, sensor.equipment, sensor.kind) == ("PREP-C", "INC-01", "equipment")
        assert f.sensors_on("INC-01") == [sensor]
        assert f.sensors_in("PREP-C") == []
        assert [e.id for e in f.equipment_in("PREP-C")] == ["INC-01"]
        assert parameters_of(sensor) == ("co2", "temperature")

    def test_equipment_in_unknown_room_is_refused(self) -> None:
        """Equipment naming a room that does not exist is named by index and id."""
        message = refused(EQUIPPED.replace('room = "PREP-C"\ntype', 'room = "NOPE"\ntype'))
        assert "facility.toml: equipment[0] (INC-01).room: no room 'NOPE'" in message

    def test_equipment_sharing_a_room_id_is_refused(self) -> None:
        """An equipment id equal to a room id is refused (the two would be confused)."""
        message = refused(EQUIPPED.replace('id = "INC-01"', 'id = "PREP-C"').replace(
            'equipment = "INC-01"', 'equipment = "PREP-C"'
        ))  # fmt: skip
        assert "equipment[0] (PREP-C).id: 'PREP-C' is a room's id too" in message

    def test_rate_keys_are_checked_for_their_sign(self) -> None:
        """A fall given as a positive rate, or a rise as a negative one, is explained."""
        message = refused(EQUIPPED.replace("rate_per_min_low = -0.5", "rate_per_min_low = 0.5"))
        assert "equipment.0.limits.co2: rate_per_min_low 0.5 must be below 0" in message
        assert "rate_per_min_low = -0.5" in message
        message = refused(EQUIPPED.replace("rate_per_min_low = -0.5", "rate_per_min_high = -1"))
        assert "rate_per_min_high -1 must be above 0" in message


class TestSensorPlacement:
    def test_both_room_and_equipment_is_refused(self) -> None:
        """A sensor may be in a room or on equipment, not both."""
        message = refused(
            EQUIPPED.replace(
                'equipment = "INC-01"\nkind', 'equipment = "INC-01"\nroom = "PREP-C"\nkind'
            )
        )
        assert "sensors[0] (INC-01-S1): give either room or equipment, not both" in message

    def test_neither_room_nor_equipment_is_refused(self) -> None:
        """A sensor with neither is told what to add."""
        message = refused(EQUIPPED.replace('equipment = "INC-01"\nkind', "kind"))
        assert "sensors[0] (INC-01-S1).room: required key is missing" in message

    def test_unknown_equipment_is_refused(self) -> None:
        """A sensor on equipment that does not exist is named."""
        message = refused(
            EQUIPPED.replace('equipment = "INC-01"\nkind', 'equipment = "INC-9"\nkind')
        )
        assert "sensors[0] (INC-01-S1).equipment: no equipment 'INC-9'" in message

    def test_kind_and_placement_must_agree(self) -> None:
        """Kind equipment needs equipment and parameters; room kinds take neither."""
        message = refused(EQUIPPED.replace('kind = "equipment"', 'kind = "climate"'))
        assert 'sensors[0] (INC-01-S1).kind: a sensor on equipment has kind = "equipment"' in (
            message
        )
        assert "sensors[0] (INC-01-S1).parameters: only for kind equipment" in message
        message = refused(EQUIPPED.replace('parameters = ["co2", "temperature"]\n', ""))
        assert "sensors[0] (INC-01-S1).parameters: required for kind equipment" in message
        room_sensor = (
            '[[sensors]]\nid = "X"\nroom = "PREP-C"\nkind = "equipment"\nparameters = ["co2"]\n'
        )
        message = refused(EQUIPPED + room_sensor)
        assert 'sensors[1] (X).kind: "equipment" needs equipment = ID' in message

    def test_undeclared_parameter_of_a_sensor_is_refused(self) -> None:
        """A sensor listing a parameter the facility does not declare names it."""
        message = refused(EQUIPPED.replace('["co2", "temperature"]', '["co2", "o2"]'))
        assert (
            "sensors[0] (INC-01-S1).parameters: 'o2' is not a parameter of this facility (built in:"
        ) in message


class TestSensorRange:
    def test_sensor_range_narrows_the_parameter_range(self) -> None:
        """A datasheet range replaces the plausible one for that sensor only."""
        f = parse_facility(BASE + "range = { diff_pressure = [-50, 50] }\n")
        assert f.range_of(f.sensors["P1"], "diff_pressure") == (-50.0, 50.0)
        g = parse_facility(BASE)
        assert g.range_of(g.sensors["P1"], "diff_pressure") == (-2000.0, 2000.0)

    def test_range_wider_than_plausible_is_refused(self) -> None:
        """A sensor range may only narrow the parameter's plausible range."""
        message = refused(BASE + "range = { diff_pressure = [-2500, 50] }\n")
        assert (
            "sensors[0] (P1).range.diff_pressure: [-2500, 50] reaches beyond diff_pressure's "
            "plausible range [-2000, 2000] Pa: a sensor's range can only narrow it"
        ) in message

    def test_range_of_a_parameter_not_measured_is_refused(self) -> None:
        """A range for a parameter the sensor does not measure is named."""
        message = refused(BASE + "range = { humidity = [0, 90] }\n")
        assert "sensors[0] (P1).range.humidity: the sensor does not measure 'humidity'" in message

    def test_inverted_range_is_refused(self) -> None:
        """Low must come first."""
        message = refused(BASE + "range = { diff_pressure = [50, -50] }\n")
        assert "range.diff_pressure: [50, -50] must be two finite numbers, low first" in message


class TestCalibrationKeys:
    def test_due_date_and_certificate_are_read(self) -> None:
        """``calibration_due`` is a TOML date; the certificate a reference."""
        sensor = parse_facility(EQUIPPED).sensors["INC-01-S1"]
        assert (sensor.calibration_due, sensor.certificate) == (
            date(2027, 6, 30),
            "CAL-2026-0412",
        )

    def test_certificate_without_due_date_is_refused(self) -> None:
        """A certificate needs the date it is valid until."""
        message = refused(EQUIPPED.replace("calibration_due = 2027-06-30\n", ""))
        assert "sensors[0] (INC-01-S1).certificate: needs calibration_due" in message

    def test_a_due_date_must_be_a_date(self) -> None:
        """A string instead of a TOML date names the key."""
        message = refused(EQUIPPED.replace("2027-06-30", '"next summer"'))
        assert "sensors.0.calibration_due" in message

    def test_every_problem_is_listed_on_its_own_line(self) -> None:
        """Several mistakes give several lines, each naming the file."""
        text = EQUIPPED.replace('["co2", "temperature"]', '["o2"]').replace(
            'room = "PREP-C"\ntype', 'room = "NOPE"\ntype'
        )
        lines = refused(text).splitlines()
        assert len(lines) == 2 and all(line.startswith(f"{FILE}: ") for line in lines)
