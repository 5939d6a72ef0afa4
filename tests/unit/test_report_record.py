"""The batch record's sections (design.md section 10) computed from plain values."""

from __future__ import annotations

import dataclasses
import json

from envmon.alarms.events import AlarmState, Level, Transition
from envmon.config_diff import Change
from envmon.config_load import ConfigLoad
from envmon.facility import Room, Sensor
from envmon.journal.audit_types import AuditEntry
from envmon.limits_snapshot import LimitSet, LimitsSnapshot, RoomLimits
from envmon.readings import NS_PER_S, Kind, RoomState, RoomStateChange, StateInForce
from envmon.report.alarms import alarms_in_window, shelved_periods
from envmon.report.audit_extract import audit_extract
from envmon.report.contract import report_json
from envmon.report.limits import limits_for_state, limits_in_force, todays_file
from envmon.report.model import ReportInputs, SensorSpan, StateSpan, build_report
from envmon.report.records import AlarmRecord, JournalHead, LimitsLoad, LimitsSource
from envmon.sensor_service import ServicePeriod
from tests.support.journal_samples import alarm
from tests.support.signing import SECRETS_LEAK_MARKERS, signature

S = NS_PER_S
T0 = 1_800_000_000 * S
HOUR = 3600 * S
ROOM = Room(id="FILL-A", grade="A", default_state="in_operation")
DP = Sensor(id="DP-1", room="FILL-A", kind=Kind.PRESSURE, interval_s=10)
DP2 = Sensor(id="DP-2", room="FILL-A", kind=Kind.PRESSURE, interval_s=10)


def snapshot(action_low: float, at_rest_low: float | None = None) -> LimitsSnapshot:
    states = {RoomState.IN_OPERATION: LimitSet(action_low=action_low, alert_low=action_low + 2)}
    if at_rest_low is not None:
        states[RoomState.AT_REST] = LimitSet(action_low=at_rest_low)
    return LimitsSnapshot({"FILL-A": RoomLimits("in_operation", {"diff_pressure": states})})


def load(seq: int, at_ns: int, action_low: float, signed: bool = True) -> LimitsLoad:
    source = LimitsSource(seq, f"{seq:064x}", signed, "jdoe" if signed else None, "envmon reload")
    return LimitsLoad(at_ns, snapshot(action_low, at_rest_low=action_low + 5), source)


def config_load(seq: int, at_ns: int, signed: bool) -> ConfigLoad:
    return ConfigLoad(
        seq=seq,
        at_ns=at_ns,
        what="facility",
        path="/etc/envmon/facility.toml",
        sha256="a" * 64,
        source="envmon reload" if signed else "SIGHUP",
        signature=signature() if signed else None,
        reason="DP floor raised, CC-112" if signed else "",
        changes=(Change("facility.rooms.FILL-A.limits.diff_pressure.action_low", 10.0, 13.0),),
    )


def inputs(**changes: object) -> ReportInputs:
    base: dict[str, object] = {
        "from_ns": T0,
        "to_ns": T0 + HOUR,
        "rooms": (ROOM,),
        "sensors": (DP,),
        "spans": (SensorSpan("FILL-A", "DP-1", T0, T0 + HOUR - 10 * S),),
    }
    base.update(changes)
    return ReportInputs(**base)  # type: ignore[arg-type]


class TestOutOfService:
    def test_sum_over_the_parameters_sensors(self) -> None:
        """Sensor-seconds: each sensor's periods within the window once, summed over sensors."""
        periods = (
            ServicePeriod("DP-1", T0 - 600 * S, T0 + 600 * S, signature()),  # 600 s inside
            ServicePeriod("DP-1", T0 + 300 * S, T0 + 900 * S, signature()),  # overlaps: +300
            ServicePeriod("DP-2", T0 + 1800 * S, None, signature(), returned_ns=T0 + 2400 * S),
            ServicePeriod("OTHER", T0, None, signature()),
        )
        report = build_report(inputs(sensors=(DP, DP2), service_periods=periods))
        [dp] = report.rooms[0].parameters
        assert dp.out_of_service_s == 1500.0
        assert [p.sensor for p in report.service_periods] == ["DP-1", "DP-1", "DP-2"]
        assert "sensor out of service 25 min 00 s" in report.rooms[0].verdict.text
        obj = report_json(report)
        assert obj["rooms"][0]["diff_pressure"]["out_of_service_s"] == 1500.0
        assert obj["out_of_service"][2]["to"] == "2027-01-15T08:40:00Z"


class TestAlarms:
    def test_shelved_periods_signed_and_run_out(self) -> None:
        """A signed unshelve ends a period with its signature; one running out has none."""
        a = alarm("A1")
        shelver, unshelver = signature("mrossi", T0), signature("jdoe", T0 + 60 * S)
        first = a.with_(state=AlarmState.SHELVED, shelved_until_ns=T0 + 3600 * S,
                        signatures=(shelver,))  # fmt: skip
        back = first.with_(state=AlarmState.ACTIVE_UNACKED, signatures=(shelver, unshelver))
        again = back.with_(state=AlarmState.SHELVED, signatures=(shelver, unshelver, shelver))
        ran_out = again.with_(state=AlarmState.ACTIVE_UNACKED)
        periods = shelved_periods(
            [
                (Transition.SHELVED, T0, first),
                (Transition.UNSHELVED, T0 + 60 * S, back),
                (Transition.SHELVED, T0 + 120 * S, again),
                (Transition.UNSHELVED, T0 + 900 * S, ran_out),
            ]
        )
        assert [(p.from_ns, p.to_ns, p.by.user) for p in periods] == [
            (T0, T0 + 60 * S, "mrossi"),
            (T0 + 120 * S, T0 + 900 * S, "mrossi"),
        ]
        assert periods[0].ended_by == unshelver and periods[1].ended_by is None
        assert periods[0].to_json()["reason"] == shelver.comment

    def test_every_level_overlapping_the_window(self) -> None:
        """Raised before the end and not cleared before the start; other rooms left out."""
        records = [
            AlarmRecord(alarm("before", raised_ns=T0 - 600 * S, cleared_ns=T0 - 1)),
            AlarmRecord(alarm("ongoing", level=Level.COMM_LOSS, raised_ns=T0 - 600 * S)),
            AlarmRecord(alarm("fault", level=Level.FAULT, raised_ns=T0 + 60 * S)),
            AlarmRecord(alarm("after", raised_ns=T0 + HOUR)),
            AlarmRecord(alarm("other", room="BG-B", raised_ns=T0 + 60 * S)),
        ]
        kept = alarms_in_window(records, T0, T0 + HOUR, ["FILL-A"])
        assert [r.alarm.id for r in kept] == ["ongoing", "fault"]

    def test_sensor_alarms_make_the_verdict_review(self) -> None:
        """Fault and comm-loss alarms listed with signatures, and counted in the verdict."""
        acked = alarm("F1", level=Level.FAULT, parameter="sensor_fault", raised_ns=T0 + 60 * S,
                      signatures=(signature(),))  # fmt: skip
        records = (AlarmRecord(acked), AlarmRecord(alarm("C1", level=Level.COMM_LOSS)))
        report = build_report(inputs(alarms=records, spans=(
            SensorSpan("FILL-A", "DP-1", T0, T0 + HOUR - 10 * S),)))  # fmt: skip
        assert report.rooms[0].verdict.status == "review"
        assert "1 sensor fault alarm" in report.rooms[0].verdict.text
        assert "1 communication-loss alarm" in report.rooms[0].verdict.text
        comm, listed = report_json(report)["alarms"]
        assert comm["id"] == "C1" and listed["id"] == "F1" and listed["shelved"] == []
        assert listed["signatures"] == [signature().to_json()]


class TestLimitsInForce:
    def test_split_at_loads_and_state_changes(self) -> None:
        """A reload mid-window and a state change give three intervals, each with its source."""
        loads = (load(3, T0 - HOUR, 10.0), load(9, T0 + 1200 * S, 13.0, signed=False))
        spans = (
            StateSpan(RoomState.IN_OPERATION, T0, T0 + 2400 * S),
            StateSpan(RoomState.AT_REST, T0 + 2400 * S, T0 + HOUR),
        )
        rows = limits_in_force("FILL-A", None, ["diff_pressure", "temperature"], spans, loads)
        assert [(r.room_state, r.from_ns - T0, r.to_ns - T0, r.limits.action_low, r.source.seq)
                for r in rows] == [
            (RoomState.IN_OPERATION, 0, 1200 * S, 10.0, 3),
            (RoomState.IN_OPERATION, 1200 * S, 2400 * S, 13.0, 9),
            (RoomState.AT_REST, 2400 * S, 3600 * S, 18.0, 9),
        ]  # fmt: skip
        assert rows[1].source.text == "seq 9, envmon reload, UNSIGNED, sha256 00000000"

    def test_no_loads_no_rows_and_todays_file(self) -> None:
        """Without loads nothing is claimed; today's file stands in, saying so."""
        spans = (StateSpan(RoomState.IN_OPERATION, T0, T0 + HOUR),)
        assert limits_in_force("FILL-A", None, ["diff_pressure"], spans, ()) == []
        stand_in = todays_file(snapshot(10.0), "f" * 64, T0)
        [row] = limits_in_force("FILL-A", None, ["diff_pressure"], spans, (stand_in,))
        assert row.source.seq is None and "today" in row.source.load

    def test_state_mapping(self) -> None:
        """Each state takes the snapshot's limits of that state; none is an empty set."""
        snap = snapshot(10.0, at_rest_low=15.0)
        assert limits_for_state(snap, "FILL-A", "diff_pressure", RoomState.AT_REST).action_low == 15
        assert limits_for_state(snap, "FILL-A", "humidity", RoomState.AT_REST) == LimitSet()

    def test_clean_up_and_unknown(self) -> None:
        """Clean-up is judged by the in-operation limits, an unknown state by the stricter
        of both per limit, as the service judged them."""
        snap = snapshot(10.0, at_rest_low=15.0)
        clean_up = limits_for_state(snap, "FILL-A", "diff_pressure", StateInForce.CLEAN_UP)
        assert clean_up.action_low == 10
        unknown = limits_for_state(snap, "FILL-A", "diff_pressure", StateInForce.UNKNOWN)
        assert unknown.action_low == 15

    def test_json_and_charts_follow_the_journal(self) -> None:
        """The JSON rows and the chart's step lines are the limits in force, not today's file."""
        loads = (load(3, T0 - HOUR, 10.0), load(9, T0 + 1200 * S, 13.0))
        report = build_report(inputs(limit_loads=loads))
        rows = report_json(report)["limits_in_force"]
        assert [(r["from"], r["action_low"], r["source"]["seq"]) for r in rows] == [
            ("2027-01-15T08:00:00Z", 10.0, 3),
            ("2027-01-15T08:20:00Z", 13.0, 9),
        ]
        assert rows[0]["source"] == {"seq": 3, "sha256": f"{3:064x}", "signed": True,
                                     "by": "jdoe", "load": "envmon reload"}  # fmt: skip
        [chart] = report.charts
        assert [(span.start_ns - T0, lines.action_low) for span, lines in chart.limit_spans] == [
            (0, 10.0),
            (1200 * S, 13.0),
        ]


class TestConfigChanges:
    def test_unsigned_flagged_and_in_the_verdict(self) -> None:
        """Loads in the window only; an unsigned one has by null and makes the verdict Review."""
        loads = (
            config_load(2, T0 - 60 * S, signed=False),
            config_load(5, T0 + 60 * S, signed=True),
            config_load(6, T0 + 120 * S, signed=False),
        )
        report = build_report(inputs(config_loads=loads))
        changes = report_json(report)["config_changes"]
        assert [(c["seq"], c["signed"]) for c in changes] == [(5, True), (6, False)]
        assert changes[0]["by"]["user"] == "jdoe" and changes[1]["by"] is None
        assert changes[0]["changes"] == [
            {"key": "facility.rooms.FILL-A.limits.diff_pressure.action_low", "old": 10.0,
             "new": 13.0}
        ]  # fmt: skip
        assert "1 unsigned configuration change" in report.rooms[0].verdict.text
        unchanged = dataclasses.replace(loads[2], changes=())
        quiet = build_report(inputs(config_loads=(loads[1], unchanged)))
        assert "unsigned" not in quiet.rooms[0].verdict.text


def entry(seq: int, kind: str, subject: str, data: dict[str, object], ts: int = T0) -> AuditEntry:
    return AuditEntry(seq, ts + seq * S, kind, subject, data, "envmon", "h" * 64)


class TestAuditExtract:
    def test_told_in_words_without_secrets(self) -> None:
        """Each kind a reviewer needs is one sentence; user entries show no hash of any kind."""
        sig = signature()
        entries = [
            entry(
                1,
                "user_added",
                "jdoe",
                {
                    "name": "jdoe",
                    "full_name": "Jane Doe",
                    "role": "engineer",
                    "credential_sha256": "c0ffee" * 10,
                },
            ),
            entry(
                2,
                "signature",
                "DP-1",
                {
                    **sig.to_record(),
                    "act": "out_of_service",
                    "subject": "DP-1",
                    "record_sha256": "r" * 64,
                },
            ),
            entry(
                3,
                "request",
                "DP-1",
                {
                    "id": 7,
                    "act": "out_of_service",
                    "subject": "DP-1",
                    "params": {"until_ns": T0 + HOUR},
                    "signature_seq": 2,
                },
            ),
            entry(4, "request_outcome", "DP-1", {"id": 7, "outcome": "ok"}),
            entry(
                5,
                "signature_refused",
                "mrossi",
                {
                    "user": "mrossi",
                    "act": "sign_in",
                    "subject": "console",
                    "reason": "wrong password",
                    "counts": True,
                    "attempted_ns": T0,
                    "client": "10.0.0.9",
                },
            ),
            entry(
                6,
                "room_state",
                "FILL-A",
                {
                    "room": "FILL-A",
                    "state": "at_rest",
                    "source": "mqtt fac/site1/FILL-A/state",
                    "site": "site1",
                    "ts_ns": T0,
                },
            ),
            entry(
                7,
                "room_state",
                "BG-B",
                {
                    "room": "BG-B",
                    "state": "at_rest",
                    "source": "mqtt",
                    "site": "site1",
                    "ts_ns": T0,
                },
            ),
            entry(
                8,
                "batch_started",
                "LOT-1",
                {
                    "batch": "LOT-1",
                    "rooms": ["FILL-A"],
                    "start_ns": T0,
                    "product": "",
                    "by": {"how": "mqtt", "topic": "fac/site1/batch"},
                },
            ),
            entry(9, "calibration_reminder", "DP-1", {}),
        ]
        rows = audit_extract(entries, T0, T0 + HOUR, frozenset({"BG-B"}))
        assert [(r.seq, r.user) for r in rows] == [
            (1, None), (2, "jdoe"), (4, "jdoe"), (5, "mrossi"), (6, None), (8, None),
        ]  # fmt: skip
        texts = [r.text for r in rows]
        assert texts[0] == "user jdoe added: Jane Doe, role engineer"
        assert (
            texts[2] == "out of service of DP-1 (until 2027-01-15T09:00:00Z) applied by the service"
        )
        assert texts[3] == "sign-in refused: wrong password"
        assert texts[4] == "room FILL-A at rest (source: mqtt fac/site1/FILL-A/state)"
        assert "from fac/site1/batch" in texts[5]
        report = build_report(inputs(audit=tuple(entries), journal_head=JournalHead(9, "e" * 64)))
        text = json.dumps(report_json(report))
        assert "c0ffee" not in text
        assert not any(marker in text for marker in SECRETS_LEAK_MARKERS)
        assert report_json(report)["journal_head"] == {"seq": 9, "sha256": "e" * 64}

    def test_outside_the_window_left_out(self) -> None:
        """Entries journaled before or after the window are not in the extract."""
        change = RoomStateChange(T0, "site1", "FILL-A", RoomState.AT_REST)
        data = {"room": change.room, "state": "at_rest", "source": "mqtt", "site": "site1",
                "ts_ns": T0}  # fmt: skip
        entries = [entry(1, "room_state", "FILL-A", data, ts=T0 - HOUR),
                   entry(2, "room_state", "FILL-A", data, ts=T0 + HOUR)]  # fmt: skip
        assert audit_extract(entries, T0, T0 + HOUR) == ()

    def test_the_batch_end_signed_after_the_window(self) -> None:
        """The batch's own entries are kept though its end is signed just after the window."""
        data = {"batch": "LOT-1", "end_ns": T0 + HOUR, "by": {"how": "mqtt", "topic": "t"}}
        late = entry(1, "batch_ended", "LOT-1", data, ts=T0 + HOUR)
        assert audit_extract([late], T0, T0 + HOUR) == ()
        [row] = audit_extract([late], T0, T0 + HOUR, batch="LOT-1")
        assert row.text == "batch LOT-1 ended at 2027-01-15T09:00:00Z, from t"
