"""Ingest of equipment sensors, measuring ranges and calibration stamping, with plain values."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from envmon.calibration import CalibrationRecord
from envmon.errors import ConfigError
from envmon.facility import parse_facility
from envmon.ingest.config import IngestSettings, TopicRule
from envmon.ingest.ingestor import Ingestor, Reject
from envmon.readings import (
    STATUS_CALIBRATION_OVERDUE,
    STATUS_OK,
    STATUS_OUT_OF_RANGE,
    Kind,
    Reading,
)

NS = 1_000_000_000
T0 = 1_795_082_400  # 2026-11-19T10:00:00Z
NOW = T0 * NS + 2 * NS

FACILITY = parse_facility("""
site = "site1"

[[parameters]]
id = "co2"
unit = "%"
range = [0, 20]

[[rooms]]
id = "PREP-C"
grade = "C"

[[equipment]]
id = "INC-01"
room = "PREP-C"
type = "incubator"

[[sensors]]
id = "INC-01-S1"
equipment = "INC-01"
kind = "equipment"
parameters = ["co2", "temperature"]

[[sensors]]
id = "DP1"
room = "PREP-C"
kind = "pressure"

[[sensors]]
id = "DP2"
room = "PREP-C"
kind = "pressure"
range = { diff_pressure = [-50, 50] }
calibration_due = 2026-11-18

[[sensors]]
id = "TH1"
room = "PREP-C"
kind = "climate"
calibration_due = 2026-11-19

[[sensors]]
id = "PC1"
room = "PREP-C"
kind = "particles"
""")
INCUBATOR = "fac/site1/PREP-C/equipment/INC-01-S1"


def ingestor(**settings: Any) -> Ingestor:
    return Ingestor(FACILITY, IngestSettings(**settings), "fac")


def handle(topic: str, body: dict[str, Any], ing: Ingestor | None = None) -> Reading | Reject:
    result = (ing or ingestor()).handle(topic, json.dumps({"ts": T0, **body}).encode(), NOW)
    assert isinstance(result, Reading | Reject), result
    return result


def reading(topic: str, body: dict[str, Any], ing: Ingestor | None = None) -> Reading:
    result = handle(topic, body, ing)
    assert isinstance(result, Reading), result
    return result


class TestEquipmentReadings:
    def test_contract_payload_becomes_an_equipment_reading(self) -> None:
        """``values`` by parameter id; room and grade from the equipment, which it names."""
        r = reading(INCUBATOR, {"values": {"co2": 5.1, "temperature": 37.0}, "status": "ok"})
        assert (r.kind, r.room, r.grade, r.equipment, r.sensor) == (
            Kind.EQUIPMENT, "PREP-C", "C", "INC-01", "INC-01-S1"
        )  # fmt: skip
        assert (r.values, r.status, r.ts_ns) == ({"co2": 5.1, "temperature": 37.0}, "ok", T0 * NS)

    def test_partial_values_are_fine(self) -> None:
        """An equipment sensor may send some of its parameters."""
        assert reading(INCUBATOR, {"values": {"co2": 5.0}}).values == {"co2": 5.0}

    def test_value_of_a_parameter_not_listed_is_rejected(self) -> None:
        """A value the sensor does not list (a typo) is named, not dropped silently."""
        result = handle(INCUBATOR, {"values": {"c02": 5.0, "temperature": 37.0}})
        assert isinstance(result, Reject) and result.reason == "unknown_parameter"
        assert "c02: not among the parameters sensor 'INC-01-S1' lists" in result.detail

    @pytest.mark.parametrize(
        ("body", "reason"),
        [
            ({"values": [5.0]}, "bad_shape"),
            ({"values": {"co2": "high"}}, "bad_value"),
            ({"values": {}}, "no_values"),
        ],
    )
    def test_bad_values_object(self, body: dict[str, Any], reason: str) -> None:
        """A values object of the wrong shape or type is refused with its reason."""
        result = handle(INCUBATOR, body)
        assert isinstance(result, Reject) and result.reason == reason

    def test_topic_room_must_be_the_equipment_room(self) -> None:
        """The topic's room level is the equipment's room."""
        result = handle("fac/site1/FILL-A/equipment/INC-01-S1", {"values": {"co2": 5}})
        assert isinstance(result, Reject) and result.reason in ("unknown_room", "room_mismatch")

    def test_mapped_json_for_equipment(self) -> None:
        """A topic rule maps a vendor's payload onto declared and built-in parameters."""
        rule = TopicRule.model_validate(
            {
                "pattern": "vendor/{sensor}",
                "kind": "equipment",
                "fields": {"co2": {"path": "gas.co2"}, "temperature": {"path": "t", "unit": "K"}},
            }
        )
        ing = ingestor(topics=[rule])
        r = reading("vendor/INC-01-S1", {"gas": {"co2": 4.9}, "t": 310.15}, ing)
        assert r.values == pytest.approx({"co2": 4.9, "temperature": 37.0})
        assert r.equipment == "INC-01"

    def test_line_protocol_for_equipment(self) -> None:
        """A line-protocol line's fields are the parameters, by id."""
        rule = TopicRule(
            pattern="lp/{sensor}", kind=Kind.EQUIPMENT, format="influx", timestamp_precision="s"
        )
        result = ingestor(topics=[rule]).handle(
            "lp/INC-01-S1", b'equipment co2=5.2,temperature=36.9,status="ok" 1795082400', NOW
        )
        assert isinstance(result, Reading)
        assert result.values == {"co2": 5.2, "temperature": 36.9}

    def test_rule_mapping_an_undeclared_parameter_is_refused_at_start(self) -> None:
        """A topic rule's field the facility does not declare is a ConfigError naming it."""
        rule = TopicRule.model_validate({"pattern": "v/{sensor}", "fields": {"o2": {"path": "o"}}})
        with pytest.raises(
            ConfigError, match=r"ingest\.topics\[0\]\.fields\.o2: no parameter 'o2'"
        ):
            ingestor(topics=[rule])


class TestMeasuringRange:
    @pytest.mark.parametrize("pa", [1e308, -1e308, 1e12, -5e9, 2000.5])
    def test_pressure_beyond_its_plausible_range_is_out_of_range(self, pa: float) -> None:
        """Absurd pressures are stored as out_of_range with their value kept."""
        r = reading("fac/site1/PREP-C/pressure/DP1", {"diff_pressure_pa": pa})
        assert (r.status, r.values) == (STATUS_OUT_OF_RANGE, {"diff_pressure": pa})

    def test_range_edges_are_within(self) -> None:
        """The range is inclusive."""
        r = reading("fac/site1/PREP-C/pressure/DP1", {"diff_pressure_pa": -2000})
        assert r.status == STATUS_OK

    def test_sensor_datasheet_range_narrows(self) -> None:
        """60 Pa is plausible, but beyond a ±50 Pa transmitter's range."""
        assert reading("fac/site1/PREP-C/pressure/DP1", {"diff_pressure_pa": 60}).status == "ok"
        narrowed = reading("fac/site1/PREP-C/pressure/DP2", {"diff_pressure_pa": 60})
        assert narrowed.status == STATUS_OUT_OF_RANGE

    def test_humidity_and_negative_counts_are_out_of_range(self) -> None:
        """Humidity above 100 %RH and negative counts are broken transmitters, stored."""
        th = reading("fac/site1/PREP-C/climate/TH1", {"temperature_c": 20, "humidity_pct": 140})
        assert th.status == STATUS_OUT_OF_RANGE
        pc = reading(
            "fac/site1/PREP-C/particles/PC1", {"sample_volume_l": 28.3, "counts": {"0.5": -2}}
        )
        assert pc.status == STATUS_OUT_OF_RANGE

    def test_declared_range_of_a_custom_parameter(self) -> None:
        """A CO2 of 25 % is beyond the declared 0-20 %."""
        assert reading(INCUBATOR, {"values": {"co2": 25.0}}).status == STATUS_OUT_OF_RANGE

    def test_fault_word_wins_over_out_of_range(self) -> None:
        """The sensor's own fault word is kept: it says best what broke."""
        r = reading("fac/site1/PREP-C/pressure/DP1", {"diff_pressure_pa": 1e308, "status": "x"})
        assert r.status == "x"


class TestCalibrationStamp:
    def test_reading_after_the_due_date_is_overdue_at_its_own_time(self) -> None:
        """Due 2026-11-18: a reading of the 19th is calibration_overdue; due the 19th it is not."""
        assert reading("fac/site1/PREP-C/pressure/DP2", {"diff_pressure_pa": 12}).status == (
            STATUS_CALIBRATION_OVERDUE
        )
        th = reading("fac/site1/PREP-C/climate/TH1", {"temperature_c": 20, "humidity_pct": 40})
        assert th.status == STATUS_OK

    def test_out_of_range_and_fault_words_win_over_overdue(self) -> None:
        """An overdue sensor's broken reading is out_of_range; its fault word is kept."""
        broken = reading("fac/site1/PREP-C/pressure/DP2", {"diff_pressure_pa": 70})
        assert broken.status == STATUS_OUT_OF_RANGE
        faulted = reading("fac/site1/PREP-C/pressure/DP2", {"status": "sensor_fault"})
        assert faulted.status == "sensor_fault"

    def test_a_record_ends_the_overdue_stamp_from_its_signing(self) -> None:
        """Readings before the record's signing stay overdue, later ones are ok."""
        ing = ingestor()
        signed = T0 * NS - 3600 * NS
        ing.replace_calibration([CalibrationRecord("DP2", date(2027, 11, 1), "CAL-9", signed)])
        later = reading("fac/site1/PREP-C/pressure/DP2", {"diff_pressure_pa": 12}, ing)
        assert later.status == STATUS_OK
        earlier = ing.handle(
            "fac/site1/PREP-C/pressure/DP2",
            json.dumps({"ts": T0 - 7200, "diff_pressure_pa": 12}).encode(),
            NOW,
        )
        assert isinstance(earlier, Reading) and earlier.status == STATUS_CALIBRATION_OVERDUE

    def test_sensor_cannot_stamp_itself_out_of_service(self) -> None:
        """A sensor sending out_of_service is a fault word, not a signed state."""
        r = reading("fac/site1/PREP-C/pressure/DP1", {"status": "out_of_service"})
        assert r.status == "sensor_out_of_service"
