"""The report's equipment sections, faulted and uncalibrated samples, calibration: plain values."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from envmon.alarms.events import Excursion, Level
from envmon.calibration import CalibrationRecord
from envmon.facility import parse_facility
from envmon.readings import NS_PER_S, RoomState
from envmon.report.contract import report_json
from envmon.report.model import (
    AckedExcursion,
    LimitLines,
    Report,
    ReportInputs,
    SensorCount,
    SensorSpan,
    SensorStats,
    SeriesPoint,
    build_report,
)
from envmon.report.render_csv import render_csv
from envmon.report.render_html import render_html

T0 = 1_800_000_000 * NS_PER_S  # 2027-01-15T08:00:00Z
HOUR = 3600 * NS_PER_S
FACILITY = parse_facility("""
site = "site1"

[[parameters]]
id = "co2"
name = "CO2"
unit = "%"
range = [0, 20]

[[rooms]]
id = "PREP-C"
grade = "C"
default_state = "in_operation"

[[equipment]]
id = "INC-01"
room = "PREP-C"
type = "incubator"
name = "CO2 incubator 1"

[[sensors]]
id = "DP-1"
room = "PREP-C"
kind = "pressure"
interval_s = 60

[[sensors]]
id = "INC-01-S1"
equipment = "INC-01"
kind = "equipment"
parameters = ["co2", "temperature"]
interval_s = 60
calibration_due = 2027-01-14
certificate = "CAL-7"
""")


def _excursion(parameter: str, level: Level, rule: str = "limit") -> Excursion:
    return Excursion(
        id=f"x-{parameter}-{rule}", alarm_id=f"x-{parameter}-{rule}", site="site1",
        room="PREP-C", sensor="INC-01-S1", parameter=parameter, level=level,
        start_ns=T0 + 600 * NS_PER_S, end_ns=T0 + 1200 * NS_PER_S, peak=3.9, limit=4.5,
        room_state="in_operation", samples=10, equipment="INC-01", rule=rule,
    )  # fmt: skip


def inputs(**changes: object) -> ReportInputs:
    base: dict[str, object] = {
        "from_ns": T0,
        "to_ns": T0 + HOUR,
        "rooms": tuple(FACILITY.model.rooms),
        "sensors": tuple(FACILITY.model.sensors),
        "equipment": tuple(FACILITY.model.equipment),
        "parameters": FACILITY.parameters,
        "stats": (
            SensorStats("PREP-C", "DP-1", "diff_pressure", 50, 12.0, 15.0, 675.0),
            SensorStats("PREP-C", "INC-01-S1", "co2", 60, 3.9, 5.2, 294.0),
            SensorStats("PREP-C", "INC-01-S1", "temperature", 60, 36.8, 37.1, 2220.0),
        ),
        "spans": (
            SensorSpan("PREP-C", "DP-1", T0, T0 + HOUR - 60 * NS_PER_S),
            SensorSpan("PREP-C", "INC-01-S1", T0, T0 + HOUR - 60 * NS_PER_S),
        ),
        "faulted": (SensorCount("PREP-C", "DP-1", 10),),
        "uncalibrated": (
            SensorCount("PREP-C", "INC-01-S1", 60, "co2"),
            SensorCount("PREP-C", "INC-01-S1", 60, "temperature"),
        ),
        "excursions": (
            AckedExcursion(_excursion("co2", Level.ACTION), "ana", T0 + 1300 * NS_PER_S, "ok"),
            AckedExcursion(_excursion("co2", Level.ALERT, "rate")),
        ),
        "series": {
            ("INC-01", "co2"): (SeriesPoint(T0, 3.9, 5.2, 4.9),),
            ("PREP-C", "diff_pressure"): (SeriesPoint(T0, 12.0, 15.0, 13.5),),
        },
        "limits": {("INC-01", "co2", RoomState.IN_OPERATION): LimitLines(action_low=4.5)},
    }
    base.update(changes)
    return ReportInputs(**base)  # type: ignore[arg-type]


def report(**changes: object) -> Report:
    return build_report(inputs(**changes))


class TestFaultedAndUncalibrated:
    def test_faulted_readings_are_counted_apart_from_the_statistics(self) -> None:
        """10 out-of-range readings: faulted_samples 10, samples and completeness without them."""
        (dp,) = report().rooms[0].parameters
        assert (dp.parameter, dp.samples, dp.faulted_samples) == ("diff_pressure", 50, 10)
        assert (dp.expected_samples, dp.completeness_pct, dp.mean) == (60, 83.3, 13.5)

    def test_uncalibrated_readings_are_among_the_samples(self) -> None:
        """Readings past the due date are judged: in the samples and counted as uncalibrated."""
        co2 = report().equipment[0].parameters[1]
        assert (co2.samples, co2.uncalibrated_samples, co2.completeness_pct) == (60, 60, 100.0)


class TestEquipmentSection:
    def test_equipment_is_summarised_apart_from_its_room(self) -> None:
        """The room has its own sensors only; the equipment its own, with its excursions."""
        r = report()
        assert [p.parameter for p in r.rooms[0].parameters] == ["diff_pressure"]
        (inc,) = r.equipment
        assert (inc.equipment, inc.type, inc.name, inc.room, inc.grade) == (
            "INC-01", "incubator", "CO2 incubator 1", "PREP-C", "C"
        )  # fmt: skip
        temperature, co2 = inc.parameters  # the facility's order: built-in ones first
        assert (co2.parameter, co2.unit, co2.min, co2.max, co2.mean) == ("co2", "%", 3.9, 5.2, 4.9)
        assert (co2.action_excursions, co2.alert_excursions) == (1, 1)
        assert temperature.unit == "°C"

    def test_equipment_verdict(self) -> None:
        """An action excursion puts the equipment out of control; overdue readings are named."""
        verdict = report().equipment[0].verdict
        assert verdict.status == "not_in_control"
        assert "1 action excursion (acknowledged)" in verdict.text
        assert "60 readings past calibration due date" in verdict.text
        assert "faulted" not in verdict.text
        assert "10 faulted readings not judged" in report().rooms[0].verdict.text

    def test_charts_per_equipment_parameter_with_its_limits(self) -> None:
        """Each equipment parameter has a chart titled with its name and unit."""
        charts = {(c.equipment, c.parameter): c for c in report().charts}
        assert set(charts) == {(None, "diff_pressure"), ("INC-01", "co2"),
                               ("INC-01", "temperature")}  # fmt: skip
        co2 = charts[("INC-01", "co2")]
        assert (co2.room, co2.label, len(co2.points), len(co2.excursions)) == (
            "PREP-C", "CO2 (%)", 1, 2
        )  # fmt: skip
        assert co2.limit_spans[0][1] == LimitLines(action_low=4.5)


class TestCalibrationSection:
    def test_each_sensor_state_in_the_window(self) -> None:
        """Due the day before: overdue the whole window, its readings counted as uncalibrated."""
        by_sensor = {c.sensor: c for c in report().calibration}
        inc = by_sensor["INC-01-S1"]
        assert (inc.due, inc.certificate, inc.state, inc.equipment) == (
            date(2027, 1, 14), "CAL-7", "overdue", "INC-01"
        )  # fmt: skip
        assert inc.overdue == ((T0, T0 + HOUR),)
        assert inc.uncalibrated_samples == 60
        dp = by_sensor["DP-1"]
        assert (dp.due, dp.state, dp.overdue) == (None, "not_set", ())

    def test_a_record_in_the_window_ends_the_overdue_span(self) -> None:
        """A record signed mid-window: overdue until then, in date at the end."""
        record = CalibrationRecord("INC-01-S1", date(2028, 1, 14), "CAL-8", T0 + HOUR // 2)
        inc = next(c for c in report(calibration_records=(record,)).calibration
                   if c.sensor == "INC-01-S1")  # fmt: skip
        assert (inc.state, inc.certificate, inc.overdue) == (
            "in_date", "CAL-8", ((T0, T0 + HOUR // 2),)
        )  # fmt: skip


class TestRenderers:
    def test_json_has_equipment_calibration_and_new_keys(self) -> None:
        """Equipment objects are shaped like rooms; excursions name equipment and rule."""
        obj = report_json(report())
        (inc,) = obj["equipment"]
        assert (inc["equipment"], inc["room"], inc["status"]) == (
            "INC-01", "PREP-C", "not_in_control"
        )  # fmt: skip
        assert inc["co2"]["uncalibrated_samples"] == 60 and inc["co2"]["unit"] == "%"
        assert obj["rooms"][0]["diff_pressure"]["faulted_samples"] == 10
        rules = sorted((e["equipment"], e["rule"], e["level"]) for e in obj["excursions"])
        assert rules == [("INC-01", "limit", "action"), ("INC-01", "rate", "alert")]
        calibration = {c["sensor"]: c for c in obj["calibration"]}
        assert calibration["INC-01-S1"]["overdue"] == [
            {"start": "2027-01-15T08:00:00Z", "end": "2027-01-15T09:00:00Z"}
        ]

    def test_csv_has_equipment_and_calibration_sections(self) -> None:
        """CSV rows for the equipment figures and each sensor's calibration."""
        text = render_csv(report()).decode("utf-8-sig")
        assert "INC-01,PREP-C,co2,%,60,60,100.0,3.9,5.2,4.9,1,1,0,60" in text
        assert "PREP-C,C,diff_pressure,Pa,50,60,83.3,12.0,15.0,13.5,0,0,10,0" in text
        assert "INC-01-S1,PREP-C,INC-01,2027-01-14,CAL-7,facility file,overdue," in text

    def test_html_has_the_equipment_section_and_charts(self) -> None:
        """The page has the equipment's figures, its verdict, calibration and charts."""
        html = render_html(report()).decode()
        assert "Figures per equipment and parameter" in html
        assert "INC-01 (incubator)" in html and "INC-01 incubator in PREP-C" in html
        assert "Sensor calibration" in html and "CAL-7" in html
        assert "CO2 (%) per min (rate)" in html and "ALERT (rate)" in html
        assert html.count("data:image/png;base64,") == 4  # key + three charts

    @pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler's pdftotext")
    def test_pdf_has_the_equipment_section(self, tmp_path: Path) -> None:
        """The PDF's text has the equipment figures and the calibration table."""
        from envmon.report.render_pdf import render_pdf

        pdf = tmp_path / "r.pdf"
        pdf.write_bytes(render_pdf(report()))
        text = subprocess.run(
            ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert "Figures per equipment and parameter" in text
        assert "Sensor calibration" in text and "CAL-7" in text
        assert "PREP-C / INC-01 - CO2 (%)" in text or "INC-01 (incubator)" in text
