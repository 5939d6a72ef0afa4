"""check-config's words for equipment, declared parameters, ranges and calibration."""

from __future__ import annotations

from datetime import date

import pytest

from envmon.calibration import CalibrationRecord
from envmon.checkconfig import describe
from envmon.errors import ConfigError
from envmon.facility import parse_facility
from envmon.ingest.config import IngestSettings, TopicRule
from envmon.readings import NS_PER_S
from envmon.settings import Settings

NOW = 1_795_082_400 * NS_PER_S  # 2026-11-19T10:00:00Z
FACILITY = parse_facility("""
site = "site1"

[[parameters]]
id = "co2"
name = "CO2"
unit = "%"
range = [0, 20]

[[rooms]]
id = "CELL-B"
grade = "B"

[[equipment]]
id = "INC-01"
room = "CELL-B"
type = "incubator"
name = "CO2 incubator 1"

[equipment.limits.co2]
action_low = 4.5
rate_per_min_low = -0.5
delay_s = 600

[[equipment]]
id = "FRG-01"
room = "CELL-B"
type = "fridge"

[[sensors]]
id = "INC-01-S1"
equipment = "INC-01"
kind = "equipment"
parameters = ["co2", "temperature"]
calibration_due = 2027-06-30
certificate = "CAL-2026-0412"

[[sensors]]
id = "DP-1"
room = "CELL-B"
kind = "pressure"
range = { diff_pressure = [-50, 50] }
calibration_due = 2026-11-01
""")


def output(**kwargs: object) -> str:
    return describe(Settings(), FACILITY, now_ns=NOW, **kwargs)  # type: ignore[arg-type]


class TestDescribe:
    def test_declared_parameters_are_listed(self) -> None:
        """Each declared parameter with its name, unit and plausible range."""
        assert 'parameter: co2 "CO2" in %, plausible 0 to 20' in output()

    def test_equipment_with_its_sensors_and_resolved_limits(self) -> None:
        """Equipment is shown in its room with each limit, the rate rule and its source."""
        out = output()
        assert '  equipment INC-01 incubator "CO2 incubator 1"' in out
        assert "    sensor    INC-01-S1 equipment measuring co2, temperature" in out
        assert (
            "    co2              in_operation (%) action_low 4.5 [facility file]; "
            "delay_s 600 [facility file]; rate_per_min_low -0.5 [facility file]"
        ) in out
        assert "    temperature      at_rest      (°C) no limits: stored, not judged" in out
        assert "    WARNING   no sensors: this equipment is not monitored" in out

    def test_ranges_say_where_they_come_from(self) -> None:
        """A sensor's range is its datasheet's when narrowed, else the plausible one."""
        out = output()
        assert "range diff_pressure -50 to 50 Pa (datasheet); beyond it: out_of_range" in out
        assert "range co2 0 to 20 % (plausible); temperature -100 to 200 °C (plausible)" in out

    def test_calibration_in_date_and_overdue(self) -> None:
        """Each sensor's calibration: due date, certificate, source and state now."""
        out = output()
        assert (
            "calibration due 2027-06-30, certificate CAL-2026-0412 [facility file]: "
            "in date, 223 days left"
        ) in out
        assert "calibration due 2026-11-01 [facility file]: OVERDUE since 2026-11-02" in out

    def test_a_record_overrides_the_file(self) -> None:
        """A signed record given to check-config is what it shows."""
        record = CalibrationRecord("DP-1", date(2027, 11, 1), "CAL-9", NOW - 3600 * NS_PER_S)
        out = output(records=[record])
        assert "calibration due 2027-11-01, certificate CAL-9 [record signed" in out

    def test_topic_rule_mapping_an_undeclared_parameter_fails(self) -> None:
        """A topic rule's field no parameter of the facility names is an error."""
        rule = TopicRule.model_validate({"pattern": "v/{sensor}", "fields": {"o2": {"path": "o"}}})
        settings = Settings(ingest=IngestSettings(topics=[rule]))
        with pytest.raises(ConfigError, match=r"ingest\.topics\[0\]\.fields\.o2: no parameter"):
            describe(settings, FACILITY, now_ns=NOW)
