"""The report end to end: a real InfluxDB 1.6.7 and a journal, every figure checked.

Scenario (window 2027-01-15 08:00-09:00 UTC, rooms FILL-A and BG-B; PREP-C
and site2 have data that must not show up):

- PC-FILL-1 (FILL-A, particles, 60 s): minutes 0..59 except 20..24;
  ≥0.5 µm = 1000 + 10·i, ≥5.0 µm = 0 except 35.3 at minute 40. One point
  before the window and one exactly at its end (both excluded).
- DP-FILL-1 (FILL-A, pressure, 10 s): 360 points of 15.0 Pa, 9.0 Pa for i in 100..105.
- TH-BG-1 (BG-B, climate, 10 s): i in 0..329; 20.0 + 0.5·(i mod 3) °C, 40 + (i mod 2) %RH.
- PC-BG-1 (BG-B, particles, 60 s): silent.
- Journal: an acknowledged action excursion (FILL-A diff_pressure), an
  unacknowledged alert excursion (FILL-A particles_5_0um), one that ended
  before the window, one in PREP-C; BG-B at rest until 08:30, then in operation.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from envmon.alarms.events import (
    Alarm,
    AlarmEvent,
    AlarmState,
    Excursion,
    Level,
    Transient,
    Transition,
)
from envmon.errors import EnvmonError, ServiceUnavailable
from envmon.facility import Facility, load_facility
from envmon.journal.journal import Journal
from envmon.readings import NS_PER_S, RoomState, RoomStateChange
from envmon.report.command import generate
from envmon.report.contract import content_sha256
from envmon.report.limits import TODAYS_FILE
from envmon.settings import Settings, load_settings
from tests.support.servers import InfluxDB1, free_port

pytestmark = pytest.mark.integration

S = NS_PER_S
T0 = 1_800_000_000 * S  # 2027-01-15T08:00:00Z
T1 = T0 + 3600 * S
NOW = T1 + 600 * S

FACILITY = """
site = "site1"

[[rooms]]
id = "FILL-A"
name = "Aseptic filling zone"
grade = "A"
reference = "BG-B"

[rooms.limits.diff_pressure]
alert_low = 12.0
action_low = 10.0

[[rooms]]
id = "BG-B"
grade = "B"
default_state = "in_operation"

[rooms.limits.temperature]
alert_high = 22.0
action_high = 24.0

[[rooms]]
id = "PREP-C"
grade = "C"

[[sensors]]
id = "PC-FILL-1"
room = "FILL-A"
kind = "particles"
interval_s = 60

[[sensors]]
id = "DP-FILL-1"
room = "FILL-A"
kind = "pressure"
interval_s = 10

[[sensors]]
id = "TH-BG-1"
room = "BG-B"
kind = "climate"
interval_s = 10

[[sensors]]
id = "PC-BG-1"
room = "BG-B"
kind = "particles"
interval_s = 60

[[sensors]]
id = "DP-PREP-1"
room = "PREP-C"
kind = "pressure"
interval_s = 10
"""


def _lines() -> list[str]:
    out = []
    tags = "site=site1,room=FILL-A,grade=A,sensor=PC-FILL-1"
    for i in range(60):
        if 20 <= i < 25:
            continue
        big = 35.3 if i == 40 else 0
        out.append(
            f"particles,{tags} particles_0_5um={1000 + 10 * i},particles_5_0um={big},"
            f"sample_volume_l=28.3 {T0 + i * 60 * S}"
        )
    out.append(f"particles,{tags} particles_0_5um=99999,particles_5_0um=999 {T0 - 60 * S}")
    out.append(f"particles,{tags} particles_0_5um=88888,particles_5_0um=888 {T1}")
    for i in range(360):
        value = 9.0 if 100 <= i <= 105 else 15.0
        out.append(
            f"pressure,site=site1,room=FILL-A,grade=A,sensor=DP-FILL-1 diff_pressure={value} "
            f"{T0 + i * 10 * S}"
        )
        out.append(
            f"pressure,site=site1,room=PREP-C,grade=C,sensor=DP-PREP-1 diff_pressure=-50 "
            f"{T0 + i * 10 * S}"
        )
        out.append(
            f"pressure,site=site2,room=FILL-A,grade=A,sensor=DP-FILL-1 diff_pressure=-99 "
            f"{T0 + i * 10 * S + 5 * S}"
        )
    for i in range(330):
        out.append(
            f"climate,site=site1,room=BG-B,grade=B,sensor=TH-BG-1 "
            f"temperature={20.0 + 0.5 * (i % 3)},humidity={40 + i % 2} {T0 + i * 10 * S}"
        )
    return out


def _alarm(ident: str, room: str, sensor: str, parameter: str, level: Level, raised_ns: int,
           limit: float) -> Alarm:  # fmt: skip
    return Alarm(
        id=ident, site="site1", room=room, sensor=sensor, parameter=parameter, level=level,
        state=AlarmState.ACTIVE_UNACKED, raised_ns=raised_ns, limit=limit,
        room_state="in_operation",
    )  # fmt: skip


def _excursion(a: Alarm, end_ns: int | None, peak: float, samples: int) -> Excursion:
    return Excursion(
        id=a.id, alarm_id=a.id, site=a.site, room=a.room, sensor=a.sensor,
        parameter=a.parameter, level=a.level, start_ns=a.raised_ns, end_ns=end_ns, peak=peak,
        limit=a.limit or 0.0, room_state="in_operation", samples=samples,
    )  # fmt: skip


def _lifecycle(a: Alarm, end_ns: int, peak: float, samples: int,
               ack: tuple[int, str, str] | None) -> list[AlarmEvent]:  # fmt: skip
    """RAISED, CLEARED and (if ``ack``) ACKED events of one alarm."""
    events = [AlarmEvent(Transition.RAISED, a, a.raised_ns, _excursion(a, None, peak, 1))]
    cleared = a.with_(state=AlarmState.CLEARED_UNACKED, cleared_ns=end_ns, peak=peak)
    events.append(
        AlarmEvent(Transition.CLEARED, cleared, end_ns, _excursion(a, end_ns, peak, samples))
    )
    if ack is not None:
        at_ns, user, comment = ack
        closed = cleared.with_(state=AlarmState.CLOSED, acked_by=user, acked_ns=at_ns,
                               comment=comment)  # fmt: skip
        events.append(AlarmEvent(Transition.ACKED, closed, at_ns))
    return events


def _seed_journal(path: Path) -> None:
    journal = Journal(path)
    try:
        dp = _alarm("0a1b2c3d4e", "FILL-A", "DP-FILL-1", "diff_pressure", Level.ACTION,
                    T0 + 1000 * S, 10.0)  # fmt: skip
        pc = _alarm("5f6a7b8c9d", "FILL-A", "PC-FILL-1", "particles_5_0um", Level.ALERT,
                    T0 + 2400 * S, 29.0)  # fmt: skip
        old = _alarm("1111111111", "FILL-A", "DP-FILL-1", "diff_pressure", Level.ALERT,
                     T0 - 7200 * S, 12.0)  # fmt: skip
        prep = _alarm("2222222222", "PREP-C", "DP-PREP-1", "diff_pressure", Level.ACTION,
                      T0 + 100 * S, 10.0)  # fmt: skip
        journal.record_events(
            _lifecycle(dp, T0 + 1060 * S, 9.0, 6,
                       (T0 + 1200 * S, "j.smith", "Door held open during material transfer"))
            + _lifecycle(pc, T0 + 2460 * S, 35.3, 1, None)
            + _lifecycle(old, T0 - 7000 * S, 11.0, 3, (T0 - 6000 * S, "a.b", "old"))
            + _lifecycle(prep, T0 + 200 * S, -50.0, 10, None)
        )  # fmt: skip
        journal.record_room_state(
            RoomStateChange(T0 - 3600 * S, "site1", "BG-B", RoomState.AT_REST)
        )
        # Two short dips in the window (one begun before it does not count).
        journal.record_transients(
            [
                Transient("site1", "FILL-A", None, "DP-FILL-1", "diff_pressure", Level.ACTION,
                          "low", start, start + length * S, peak, 3, 10.0)
                for start, length, peak in ((T0 - 20 * S, 60, 5.0), (T0 + 600 * S, 30, 9.5),
                                            (T0 + 900 * S, 40, 9.2))
            ]
        )  # fmt: skip
        journal.record_room_state(
            RoomStateChange(T0 + 1800 * S, "site1", "BG-B", RoomState.IN_OPERATION)
        )
    finally:
        journal.close()


@pytest.fixture
def scenario(influxdb: InfluxDB1, tmp_path: Path) -> tuple[Settings, Facility]:
    (tmp_path / "facility.toml").write_text(FACILITY)
    config = tmp_path / "envmon.toml"
    config.write_text(
        f'[influx]\nurl = "{influxdb.url}"\napi = "v1"\ndatabase = "envmon"\n'
        '[storage]\nstate_dir = "state"\n[facility]\nfile = "facility.toml"\n'
    )
    settings = load_settings(config)
    facility = load_facility(settings.facility.file)
    request = urllib.request.Request(
        f"{influxdb.url}/write?db=envmon&precision=ns",
        data="\n".join(_lines()).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 204
    _seed_journal(settings.storage.journal_path)
    return settings, facility


def _report(settings: Settings, facility: Facility, fmt: str = "json", **kw: object) -> bytes:
    args: dict[str, object] = {
        "from_ns": T0, "to_ns": T1, "rooms": ["FILL-A", "BG-B"], "batch": "B-2027-0042",
        "fmt": fmt, "generated_by": "qa.tester", "now_ns": NOW,
    }  # fmt: skip
    args.update(kw)
    return generate(settings, facility, **args)  # type: ignore[arg-type]


def _figures(
    samples: int, expected: int, pct: float | None, lo: float | None, hi: float | None,
    mean: float | None, alert: int = 0, action: int = 0, unit: str = "",
) -> dict:  # fmt: skip
    return {
        "samples": samples, "expected_samples": expected, "completeness_pct": pct,
        "min": lo, "max": hi, "mean": mean, "excursions": {"alert": alert, "action": action},
        "faulted_samples": 0, "uncalibrated_samples": 0, "unit": unit, "out_of_service_s": 0.0,
    }  # fmt: skip


def _no_calibration(sensor: str, room: str) -> dict:
    return {
        "sensor": sensor, "room": room, "equipment": None, "due": None, "certificate": None,
        "source": "facility file", "state": "not_set", "overdue": [], "uncalibrated_samples": 0,
    }  # fmt: skip


PER_M3 = "counts/m³"
RECORD_KEYS = (
    "out_of_service", "alarms", "limits_in_force", "config_changes", "audit_extract",
    "journal_head",
)  # fmt: skip


class TestReportJson:
    def test_every_figure(self, scenario: tuple[Settings, Facility]) -> None:
        """The JSON report states exactly the figures the scenario was built with."""
        settings, facility = scenario
        obj = json.loads(_report(settings, facility))
        assert obj["content_sha256"] == content_sha256(obj)
        record = {k: obj.pop(k) for k in RECORD_KEYS}
        assert obj == {
            "batch": "B-2027-0042",
            "from": "2027-01-15T08:00:00Z",
            "to": "2027-01-15T09:00:00Z",
            "generated_at": "2027-01-15T09:10:00Z",
            "generated_by": "qa.tester",
            "envmon_version": "0.1.0",
            "config_sha256": settings.config_sha256,
            "facility_sha256": facility.sha256,
            "gap_tolerance_intervals": 2.0,
            "rooms": [
                {
                    "room": "BG-B",
                    "grade": "B",
                    "name": "",
                    "particles_0_5um": _figures(0, 60, 0.0, None, None, None, unit=PER_M3),
                    "particles_5_0um": _figures(0, 60, 0.0, None, None, None, unit=PER_M3),
                    "temperature": _figures(330, 360, 91.6, 20.0, 21.0, 20.5, unit="°C"),
                    "humidity": _figures(330, 360, 91.6, 40.0, 41.0, 40.5, unit="%RH"),
                    "time_in_state_s": {
                        "at_rest": 1800.0,
                        "in_operation": 1800.0,
                        "clean_up": 0.0,
                        "unknown": 0.0,
                    },
                    "verdict": "Review: no action excursions; completeness 0.0 %; 2 data gaps",
                    "status": "review",
                },
                {
                    "room": "FILL-A",
                    "grade": "A",
                    "name": "Aseptic filling zone",
                    "particles_0_5um": _figures(
                        55, 60, 91.6, 1000.0, 1590.0, 1301.818, unit=PER_M3
                    ),
                    "particles_5_0um": _figures(
                        55, 60, 91.6, 0.0, 35.3, 0.642, alert=1, unit=PER_M3
                    ),
                    "diff_pressure": _figures(
                        360, 360, 100.0, 9.0, 15.0, 14.9, action=1, unit="Pa"
                    ),
                    "time_in_state_s": {
                        "at_rest": 0.0,
                        "in_operation": 0.0,
                        "clean_up": 0.0,
                        "unknown": 3600.0,
                    },
                    "verdict": "NOT IN CONTROL: 1 action excursion (acknowledged); Grade A "
                    "monitoring interrupted: 1 data gap; 1 alert excursion (1 unacknowledged); "
                    "completeness 91.6 %",
                    "status": "not_in_control",
                },
            ],
            "equipment": [],
            "excursions": [
                {
                    "id": "0a1b2c3d4e",
                    "alarm_id": "0a1b2c3d4e",
                    "room": "FILL-A",
                    "equipment": None,
                    "sensor": "DP-FILL-1",
                    "parameter": "diff_pressure",
                    "level": "action",
                    "rule": "limit",
                    "start": "2027-01-15T08:16:40Z",
                    "end": "2027-01-15T08:17:40Z",
                    "duration_s": 60.0,
                    "peak": 9.0,
                    "limit": 10.0,
                    "room_state": "in_operation",
                    "samples": 6,
                    "acknowledged": True,
                    "acknowledged_by": "j.smith",
                    "acknowledged_at": "2027-01-15T08:20:00Z",
                    "comment": "Door held open during material transfer",
                },
                {
                    "id": "5f6a7b8c9d",
                    "alarm_id": "5f6a7b8c9d",
                    "room": "FILL-A",
                    "equipment": None,
                    "sensor": "PC-FILL-1",
                    "parameter": "particles_5_0um",
                    "level": "alert",
                    "rule": "limit",
                    "start": "2027-01-15T08:40:00Z",
                    "end": "2027-01-15T08:41:00Z",
                    "duration_s": 60.0,
                    "peak": 35.3,
                    "limit": 29.0,
                    "room_state": "in_operation",
                    "samples": 1,
                    "acknowledged": False,
                    "acknowledged_by": None,
                    "acknowledged_at": None,
                    "comment": None,
                },
            ],
            "data_gaps": [
                {
                    "sensor": "PC-BG-1",
                    "room": "BG-B",
                    "equipment": None,
                    "start": "2027-01-15T08:00:00Z",
                    "end": "2027-01-15T09:00:00Z",
                    "duration_s": 3600.0,
                },
                {
                    "sensor": "TH-BG-1",
                    "room": "BG-B",
                    "equipment": None,
                    "start": "2027-01-15T08:54:50Z",
                    "end": "2027-01-15T09:00:00Z",
                    "duration_s": 310.0,
                },
                {
                    "sensor": "PC-FILL-1",
                    "room": "FILL-A",
                    "equipment": None,
                    "start": "2027-01-15T08:19:00Z",
                    "end": "2027-01-15T08:25:00Z",
                    "duration_s": 360.0,
                },
            ],
            "calibration": [
                _no_calibration("PC-BG-1", "BG-B"),
                _no_calibration("TH-BG-1", "BG-B"),
                _no_calibration("DP-FILL-1", "FILL-A"),
                _no_calibration("PC-FILL-1", "FILL-A"),
            ],
            "transients": [
                {
                    "room": "FILL-A",
                    "equipment": None,
                    "parameter": "diff_pressure",
                    "level": "action",
                    "side": "low",
                    "count": 2,
                    "longest_s": 40.0,
                    "peak": 9.2,
                    "limit": 10.0,
                },
            ],
            "content_sha256": obj["content_sha256"],
        }
        self.check_record(record, settings, facility)

    def check_record(self, record: dict, settings: Settings, facility: Facility) -> None:
        """The batch record's sections: the seeded journal's alarms, the limits of today's
        file (the journal holds no load) split at BG-B's state change, and its head."""
        assert [(a["id"], a["level"], a["acked_by"]) for a in record["alarms"]] == [
            ("0a1b2c3d4e", "action", "j.smith"),
            ("5f6a7b8c9d", "alert", None),
        ]
        limits = [
            (r["room"], r["parameter"], r["room_state"], r["from"][11:16], r["to"][11:16],
             r["alert_high"], r["action_high"], r["alert_low"], r["action_low"])
            for r in record["limits_in_force"]
        ]  # fmt: skip
        assert limits == [
            ("BG-B", "particles_0_5um", "at_rest", "08:00", "08:30", None, 3520.0, None, None),
            ("BG-B", "particles_0_5um", "in_operation", "08:30", "09:00", None, 352000.0, None,
             None),
            ("BG-B", "particles_5_0um", "at_rest", "08:00", "08:30", None, 29.0, None, None),
            ("BG-B", "particles_5_0um", "in_operation", "08:30", "09:00", None, 2930.0, None,
             None),
            ("BG-B", "temperature", "at_rest", "08:00", "08:30", 22.0, 24.0, None, None),
            ("BG-B", "temperature", "in_operation", "08:30", "09:00", 22.0, 24.0, None, None),
            # FILL-A's state is never known: the stricter of both states (Grade A: equal).
            ("FILL-A", "particles_0_5um", "unknown", "08:00", "09:00", None, 3520.0, None, None),
            ("FILL-A", "particles_5_0um", "unknown", "08:00", "09:00", None, 29.0, None, None),
            ("FILL-A", "diff_pressure", "unknown", "08:00", "09:00", None, None, 12.0, 10.0),
        ]  # fmt: skip
        assert {json.dumps(r["source"]) for r in record["limits_in_force"]} == {
            json.dumps({"seq": None, "sha256": facility.sha256, "signed": False, "by": None,
                        "load": TODAYS_FILE})
        }  # fmt: skip
        assert record["config_changes"] == [] and record["audit_extract"] == []
        assert record["out_of_service"] == []
        with Journal(settings.storage.journal_path, readonly=True) as journal:
            seq, sha256 = journal.head()
        assert record["journal_head"] == {"seq": seq, "sha256": sha256}

    def test_reproducible(self, scenario: tuple[Settings, Facility]) -> None:
        """Two runs at different times differ only in the generated_at line."""
        settings, facility = scenario
        first = _report(settings, facility).decode().splitlines()
        second = _report(settings, facility, now_ns=NOW + 3600 * S).decode().splitlines()
        differing = [(a, b) for a, b in zip(first, second, strict=True) if a != b]
        assert differing == [
            (
                '  "generated_at": "2027-01-15T09:10:00Z",',
                '  "generated_at": "2027-01-15T10:10:00Z",',
            )
        ]

    def test_all_rooms_when_none_named(self, scenario: tuple[Settings, Facility]) -> None:
        """Without --room every facility room is reported, PREP-C and its excursion included."""
        settings, facility = scenario
        obj = json.loads(_report(settings, facility, rooms=None))
        assert [r["room"] for r in obj["rooms"]] == ["BG-B", "FILL-A", "PREP-C"]
        assert obj["rooms"][2]["diff_pressure"]["mean"] == -50.0
        assert [e["alarm_id"] for e in obj["excursions"]] == [
            "2222222222",
            "0a1b2c3d4e",
            "5f6a7b8c9d",
        ]


def _pdftotext(pdf: bytes, tmp_path: Path) -> tuple[str, int]:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True)
    match = re.search(r"^Pages:\s+(\d+)$", info.stdout, re.MULTILINE)
    assert match is not None
    return text, int(match.group(1))


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
class TestReportPdf:
    def test_header_excursions_and_pages(
        self, scenario: tuple[Settings, Facility], tmp_path: Path
    ) -> None:
        """The PDF read back shows the header, every excursion with its ack, and 'page X of Y'."""
        settings, facility = scenario
        pdf = _report(settings, facility, fmt="pdf")
        text, pages = _pdftotext(pdf, tmp_path)
        flat = " ".join(text.split())
        for expected in (
            "Batch B-2027-0042",
            "2027-01-15 08:00:00Z to 2027-01-15 09:00:00Z (1 h 00 min 00 s)",
            "BG-B (grade B), FILL-A Aseptic filling zone (grade A)",
            "Generated at 2027-01-15 09:10:00Z",
            "Generated by qa.tester",
            "envmon version 0.1.0",
            settings.config_sha256,
            facility.sha256,
            "NOT IN CONTROL",
            "0a1b2c3d4e",
            "5f6a7b8c9d",
            "j.smith",
            "UNACKNOWLEDGED",
            "Reviewed by (QA)",
        ):
            assert expected in flat, expected
        assert "Door held open during" in flat
        assert "1111111111" not in flat and "2222222222" not in flat
        assert pages >= 3
        for n in range(1, pages + 1):
            assert f"page {n} of {pages}" in flat

    def test_html_and_csv(self, scenario: tuple[Settings, Facility]) -> None:
        """HTML and CSV carry the same excursions, the unacknowledged one marked."""
        settings, facility = scenario
        html = _report(settings, facility, fmt="html").decode()
        assert 'class="unacked"' in html and "5f6a7b8c9d" in html and "j.smith" in html
        assert "data:image/png;base64," in html and "<script" not in html
        csv_text = _report(settings, facility, fmt="csv").decode("utf-8-sig")
        assert "# excursions" in csv_text and "# data_gaps" in csv_text
        assert "5f6a7b8c9d,FILL-A,,PC-FILL-1,particles_5_0um,alert,limit" in csv_text
        assert (
            "FILL-A,A,particles_0_5um,counts/m³,55,60,91.6,1000.0,1590.0,1301.818,0,0" in csv_text
        )


class TestReportErrors:
    def test_window_without_data(self, scenario: tuple[Settings, Facility]) -> None:
        """A window with no readings is one clear error naming rooms, window and database."""
        settings, facility = scenario
        with pytest.raises(
            EnvmonError, match=r"no readings for BG-B, FILL-A from 2027-01-16T08:00:00Z"
        ):
            _report(settings, facility, from_ns=T0 + 86400 * S, to_ns=T1 + 86400 * S)

    def test_unknown_room(self, scenario: tuple[Settings, Facility]) -> None:
        """An unknown room is named together with the rooms that exist."""
        settings, facility = scenario
        with pytest.raises(EnvmonError, match=r"unknown room 'FILL-Z'.*BG-B, FILL-A, PREP-C"):
            _report(settings, facility, rooms=["FILL-A", "FILL-Z"])

    def test_window_order(self, scenario: tuple[Settings, Facility]) -> None:
        """'from' not before 'to' is refused before anything is queried."""
        settings, facility = scenario
        with pytest.raises(EnvmonError, match="is not before"):
            _report(settings, facility, from_ns=T1, to_ns=T0)

    def test_influxdb_down(self, scenario: tuple[Settings, Facility]) -> None:
        """An unreachable InfluxDB is ServiceUnavailable naming its URL."""
        settings, facility = scenario
        url = f"http://127.0.0.1:{free_port()}"
        settings.influx.url = url
        with pytest.raises(
            ServiceUnavailable, match=re.escape(f"InfluxDB at {url} is unreachable")
        ):
            _report(settings, facility)

    def test_unknown_database(self, scenario: tuple[Settings, Facility]) -> None:
        """A database that does not exist is named in the error."""
        settings, facility = scenario
        settings.influx.database = "nosuchdb"
        with pytest.raises(EnvmonError, match="database not found: nosuchdb"):
            _report(settings, facility)
