"""The report's JSON contract, its hash, and the CSV/HTML/PDF renderers, from plain values."""

from __future__ import annotations

import dataclasses
import json

import pytest

from envmon.alarms.events import Excursion, Level
from envmon.facility import Room, Sensor
from envmon.readings import NS_PER_S, Kind, RoomState
from envmon.report.contract import content_sha256, report_json, rounded
from envmon.report.model import (
    AckedExcursion,
    LimitLines,
    Report,
    ReportInputs,
    SensorSpan,
    SensorStats,
    SeriesPoint,
    build_report,
)
from envmon.report.render_csv import render_csv
from envmon.report.render_html import render_html
from envmon.report.render_json import render_json
from envmon.report.text import duration_text, number_text

T0 = 1_800_000_000 * NS_PER_S
HOUR = 3600 * NS_PER_S


def _report(**changes: object) -> Report:
    room = Room(id="FILL-A", name="Filling <A>", grade="A")
    pc = Sensor(id="PC-1", room="FILL-A", kind=Kind.PARTICLES, interval_s=60)
    excursion = Excursion(
        id="abc123def0", alarm_id="abc123def0", site="site1", room="FILL-A", sensor="PC-1",
        parameter="particles_5_0um", level=Level.ACTION, start_ns=T0 + 600 * NS_PER_S,
        end_ns=None, peak=70.6, limit=29.0, room_state="in_operation", samples=2,
    )  # fmt: skip
    base: dict[str, object] = {
        "from_ns": T0,
        "to_ns": T0 + HOUR,
        "rooms": (room,),
        "sensors": (pc,),
        "stats": (
            SensorStats("FILL-A", "PC-1", "particles_0_5um", 60, 100.0, 200.0, 9000.1),
            SensorStats("FILL-A", "PC-1", "particles_5_0um", 60, -0.0, 70.6, 70.6),
        ),
        "spans": (SensorSpan("FILL-A", "PC-1", T0, T0 + HOUR - 60 * NS_PER_S),),
        "excursions": (AckedExcursion(excursion),),
        "batch": "B-1",
        "generated_ns": T0 + 2 * HOUR,
        "generated_by": "qa",
        "envmon_version": "0.1.0",
        "config_sha256": "c" * 64,
        "facility_sha256": "f" * 64,
        "series": {
            ("FILL-A", "particles_0_5um"): (SeriesPoint(T0, 100.0, 200.0, 150.0),),
        },
        "limits": {
            ("FILL-A", "particles_0_5um", RoomState.IN_OPERATION): LimitLines(action_high=3520.0)
        },
    }
    base.update(changes)
    return build_report(ReportInputs(**base))  # type: ignore[arg-type]


class TestContract:
    def test_contract_keys(self) -> None:
        """Top level, room, parameter, excursion and gap objects carry the contract's keys."""
        obj = report_json(_report())
        for key in ("batch", "from", "to", "generated_at", "envmon_version", "config_sha256",
                    "rooms", "excursions", "data_gaps"):  # fmt: skip
            assert key in obj
        room = obj["rooms"][0]
        assert (room["room"], room["grade"]) == ("FILL-A", "A")
        assert set(room["particles_0_5um"]) == {
            "samples", "expected_samples", "completeness_pct", "min", "max", "mean", "excursions",
            "faulted_samples", "uncalibrated_samples", "unit", "out_of_service_s",
        }  # fmt: skip
        assert room["particles_5_0um"]["excursions"] == {"alert": 0, "action": 1}
        excursion = obj["excursions"][0]
        assert {"id", "room", "parameter", "level", "start", "end", "duration_s", "peak",
                "limit", "room_state", "acknowledged_by", "acknowledged_at",
                "comment"} <= set(excursion)  # fmt: skip
        assert (excursion["end"], excursion["duration_s"], excursion["acknowledged"]) == (
            None, None, False,
        )  # fmt: skip

    def test_rounding_and_negative_zero(self) -> None:
        """Values are rounded to 3 decimals and -0.0 is written as 0.0."""
        room = report_json(_report())["rooms"][0]
        assert room["particles_0_5um"]["mean"] == 150.002
        assert json.dumps(room["particles_5_0um"]["min"]) == "0.0"
        assert rounded(None) is None and rounded(1.23456) == 1.235

    def test_times_rfc3339(self) -> None:
        """Times are RFC 3339 UTC with a Z."""
        obj = report_json(_report())
        assert (obj["from"], obj["to"], obj["generated_at"]) == (
            "2027-01-15T08:00:00Z", "2027-01-15T09:00:00Z", "2027-01-15T10:00:00Z",
        )  # fmt: skip
        assert obj["excursions"][0]["start"] == "2027-01-15T08:10:00Z"

    def test_hash_ignores_generation_only(self) -> None:
        """generated_at/by do not change the content hash; any figure does."""
        a = report_json(_report())
        b = report_json(_report(generated_ns=T0 + 5 * HOUR, generated_by="other"))
        c = report_json(_report(batch="B-2"))
        assert a["content_sha256"] == b["content_sha256"] != c["content_sha256"]
        assert a["content_sha256"] == content_sha256(a)

    def test_json_bytes_reproducible(self) -> None:
        """Equal data renders to equal bytes apart from the generated_at line."""
        a = render_json(_report()).decode().splitlines()
        b = render_json(_report(generated_ns=T0 + 5 * HOUR)).decode().splitlines()
        assert [x for x, y in zip(a, b, strict=True) if x != y] == [
            '  "generated_at": "2027-01-15T10:00:00Z",'
        ]
        assert render_json(_report()).endswith(b"}\n")


class TestCsv:
    def test_sections(self) -> None:
        """One file, a '# name' row per table, with header rows and values as in the JSON."""
        text = render_csv(_report()).decode("utf-8-sig")
        sections = [line for line in text.splitlines() if line.startswith("# ")]
        assert sections == [
            "# report", "# rooms", "# parameters", "# equipment", "# equipment_parameters",
            "# excursions", "# transients", "# data_gaps", "# calibration", "# alarms",
            "# alarm_signatures", "# shelved", "# out_of_service", "# limits_in_force",
            "# config_changes", "# audit_extract",
        ]  # fmt: skip
        assert "FILL-A,A,particles_0_5um,counts/m³,60,60,100.0,100.0,200.0,150.002,0,0,0,0" in text
        assert (
            "abc123def0,FILL-A,,PC-1,particles_5_0um,action,limit,2027-01-15T08:10:00Z,,," in text
        )
        assert ",no,,," in text  # not acknowledged: empty user, time and comment


class TestHtml:
    def test_self_contained_and_escaped(self) -> None:
        """No external resources; names are escaped; the unacknowledged row stands out."""
        html = render_html(_report()).decode()
        assert "FILL-A Filling &lt;A&gt; (grade A)" in html and "Filling <A>" not in html
        assert 'src="http' not in html and "<link" not in html and "<script" not in html
        assert '<tr class="unacked">' in html and "UNACKNOWLEDGED" in html
        assert "1 unacknowledged excursion" in html
        assert html.count("data:image/png;base64,") == 3  # key + one chart per parameter

    def test_verdict_shown(self) -> None:
        """Each room's verdict line is in the page."""
        html = render_html(_report()).decode()
        assert "NOT IN CONTROL: 1 action excursion unacknowledged" in html


class TestText:
    @pytest.mark.parametrize(
        ("seconds", "text"),
        [(None, "ongoing"), (0.0, "0 s"), (12.5, "12.5 s"), (60.0, "1 min 00 s"),
         (3725.0, "1 h 02 min 05 s")],
    )  # fmt: skip
    def test_durations(self, seconds: float | None, text: str) -> None:
        """Durations read as hours, minutes and seconds."""
        assert duration_text(seconds) == text

    def test_numbers(self) -> None:
        """Large counts are grouped; small values keep their decimals; None is blank."""
        assert number_text(3_520_000.0) == "3 520 000"
        assert number_text(20.4) == "20.4"
        assert number_text(None, "-") == "-"


class TestDataclassesStayFrozen:
    def test_report_is_frozen(self) -> None:
        """A built report cannot be changed by a renderer."""
        with pytest.raises(dataclasses.FrozenInstanceError):
            _report().batch = "x"  # type: ignore[misc]


class TestPdf:
    def test_deterministic_pdf(self) -> None:
        """Equal reports give byte-identical PDFs (reportlab invariant mode, fixed chart PNGs)."""
        from envmon.report.render_pdf import render_pdf

        first, second = render_pdf(_report()), render_pdf(_report())
        assert first.startswith(b"%PDF-") and first == second
