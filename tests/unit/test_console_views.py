"""What the console's pages show, as plain values: rows, order, labels, entries."""

from __future__ import annotations

from datetime import date

from envmon.alarms.events import AlarmState, Level, Rule
from envmon.console.entries import entry_view, redact, who_of
from envmon.console.plant import IN_SERVICE, calibration_of, room_rows, sensor_rows
from envmon.console.views import (
    DASH,
    ParameterWords,
    SortKey,
    age_label,
    alarm_row,
    format_value,
    parse_sort,
    severity,
    sort_alarms,
    time_label,
    where,
)
from envmon.facility import BUILTIN_PARAMETERS, load_facility
from envmon.journal.audit import AuditEntry, event_data
from tests.support.console import EXAMPLE_FACILITY
from tests.support.journal_samples import T0, S, acked, alarm, raised

WORDS = ParameterWords(BUILTIN_PARAMETERS)
"""A facility that declares no parameter of its own."""

A_ACTION = alarm("a-action", room="FILL-A", raised_ns=T0)
A_ALERT = alarm("a-alert", room="BG-B", level=Level.ALERT, raised_ns=T0 + 10 * S)
A_COMM = alarm("a-comm", room="CORR-D", level=Level.COMM_LOSS, raised_ns=T0 + 20 * S)
A_ACKED = alarm("a-acked", room="AIRLOCK-D", state=AlarmState.ACTIVE_ACKED, raised_ns=T0 + 30 * S)
ALL = [A_ACTION, A_ALERT, A_COMM, A_ACKED]


def ids(alarms: list) -> list[str]:
    return [a.id for a in alarms]


class TestSortAlarms:
    def test_priority_puts_unacknowledged_and_severe_first(self) -> None:
        """Unacknowledged before acknowledged; action before comm loss before alert."""
        assert ids(sort_alarms(ALL, SortKey.PRIORITY)) == [
            "a-action",
            "a-comm",
            "a-alert",
            "a-acked",
        ]

    def test_by_room(self) -> None:
        """Rooms in alphabetical order."""
        assert ids(sort_alarms(ALL, SortKey.ROOM)) == ["a-acked", "a-alert", "a-comm", "a-action"]

    def test_by_level_then_newest(self) -> None:
        """Most severe level first; within a level, newest first."""
        assert ids(sort_alarms(ALL, SortKey.LEVEL)) == ["a-acked", "a-action", "a-comm", "a-alert"]

    def test_by_age_oldest_first_and_reversed(self) -> None:
        """Age is oldest first; descending reverses any order."""
        assert ids(sort_alarms(ALL, SortKey.AGE)) == ["a-action", "a-alert", "a-comm", "a-acked"]
        assert ids(sort_alarms(ALL, SortKey.AGE, descending=True)) == [
            "a-acked",
            "a-comm",
            "a-alert",
            "a-action",
        ]

    def test_unknown_sort_falls_back_to_priority(self) -> None:
        """A sort key from a hand-made URL means the default."""
        assert parse_sort("bogus") is SortKey.PRIORITY
        assert parse_sort(None) is SortKey.PRIORITY
        assert parse_sort("room") is SortKey.ROOM

    def test_unknown_levels_sort_last(self) -> None:
        """A level this console does not know still sorts, after the known ones."""
        assert severity("something_new") > severity("calibration") > severity("action")


class TestAlarmRow:
    def test_row_of_an_unacknowledged_action_alarm(self) -> None:
        """Labels, age and the need for acknowledgement."""
        row = alarm_row(A_ACTION, T0 + 125 * S, WORDS)
        assert row.parameter_label == "particles \u2265 5.0 \u00b5m"
        assert row.age == "2 min"
        assert row.needs_ack
        assert row.value == "35.3 counts/m\u00b3"
        assert row.limit == "29 counts/m\u00b3"
        assert row.raised_label == "2026-11-18 11:06:40 UTC"

    def test_acknowledged_alarm_needs_nothing(self) -> None:
        """An acknowledged active alarm offers no acknowledgement."""
        assert not alarm_row(A_ACKED, T0, WORDS).needs_ack

    def test_no_limit_is_empty(self) -> None:
        """A comm-loss alarm has no limit to show."""
        assert alarm_row(A_COMM.with_(limit=None), T0, WORDS).limit == ""

    def test_an_alarm_on_equipment_names_it(self) -> None:
        """The row carries the equipment; a room's own sensor has none."""
        assert alarm_row(A_ACTION.with_(equipment="INC-01"), T0, WORDS).equipment == "INC-01"
        assert alarm_row(A_ACTION, T0, WORDS).equipment == ""

    def test_where_is_the_room_or_room_slash_equipment(self) -> None:
        """As the alarm topics and the transients name a place."""
        assert where("CELL-B", "INC-01") == "CELL-B/INC-01"
        assert where("FILL-A", None) == "FILL-A"


class TestFormatting:
    def test_values(self) -> None:
        """Large values with thousands separators, small ones to 4 digits, none as a dash."""
        assert WORDS.value(352000.0, "particles_0_5um") == "352,000 counts/m\u00b3"
        assert WORDS.value(12.3456, "diff_pressure") == "12.35 Pa"
        assert format_value(3.742, "%") == "3.742 %"
        assert format_value(None) == DASH

    def test_ages(self) -> None:
        """Seconds, minutes, hours and days."""
        assert [age_label(s) for s in (-5, 59, 60, 3599, 3660, 90000)] == [
            "0 s",
            "59 s",
            "1 min",
            "59 min",
            "1 h 01 min",
            "1 d 01 h",
        ]

    def test_times(self) -> None:
        """UTC to the second; None is a dash."""
        assert time_label(T0 + 999_999_999) == "2026-11-18 11:06:40 UTC"
        assert time_label(None) == DASH


class TestCalibration:
    def test_states(self) -> None:
        """None recorded, due later, due within 30 days, overdue."""
        today = date(2026, 12, 1)
        assert calibration_of(None, None, today)[1] == "unknown"
        assert calibration_of(date(2027, 6, 30), "CAL-1", today) == (
            "due 2027-06-30 (certificate CAL-1)",
            "ok",
        )
        assert calibration_of(date(2026, 12, 20), None, today)[1] == "due_soon"
        assert calibration_of(date(2026, 11, 30), None, today)[1] == "overdue"


class TestPlantRows:
    """The rooms and sensors pages count and name what sits on a room's equipment."""

    def test_a_room_counts_its_equipment_sensors_as_it_counts_their_alarms(self) -> None:
        facility = load_facility(EXAMPLE_FACILITY)
        on_incubator = alarm("A1", room="CELL-B", sensor="INC-01-S1", parameter="co2")
        rows = {r.id: r for r in room_rows(facility, [], [on_incubator], T0)}
        cell = rows["CELL-B"]
        assert cell.equipment == ("INC-01", "INC-02", "LN2-01", "FRZ-01", "FRG-01", "BSC-01")
        assert (cell.sensors, cell.on_equipment, cell.alarms) == (9, 6, 1)
        fill = rows["FILL-A"]
        assert (fill.equipment, fill.sensors, fill.on_equipment, fill.alarms) == ((), 3, 0, 0)

    def test_a_sensor_row_names_its_equipment(self) -> None:
        facility = load_facility(EXAMPLE_FACILITY)
        rows = {r.id: r for r in sensor_rows(facility, {}, [], T0)}
        assert (rows["INC-01-S1"].room, rows["INC-01-S1"].equipment) == ("CELL-B", "INC-01")
        assert rows["TH-CELL-B-1"].equipment == ""
        assert rows["TH-CELL-B-1"].service is IN_SERVICE


def entry(kind: str, data: dict, subject: str = "A1", seq: int = 1) -> AuditEntry:
    return AuditEntry(seq, T0 + 5 * S, kind, subject, data, "envmon", "h")


class TestEntries:
    def test_alarm_transition_at_its_own_time(self) -> None:
        """A transition shows when it happened (event time) and what the alarm was."""
        view = entry_view(entry("alarm.raised", event_data(raised(A_ACTION))), WORDS)
        assert view.when == time_label(T0)
        assert view.label == "raised"
        assert "limit 29 counts/m\u00b3" in view.summary
        assert view.who == ""

    def test_acknowledgement_names_the_person(self) -> None:
        """An acked transition's person is the acknowledging user, with the comment."""
        data = event_data(acked(A_ACTION, T0 + S, user="alice", comment="door open"))
        view = entry_view(entry("alarm.acked", data), WORDS)
        assert view.who == "alice"
        assert "comment: door open" in view.summary

    def test_signature_user_is_found(self) -> None:
        """A signature's user, or a request's, is who did it."""
        assert who_of({"signature": {"user": "erik"}}) == "erik"
        assert who_of({"user": "olga"}) == "olga"
        assert who_of({}) == ""

    def test_secrets_never_shown(self) -> None:
        """Keys naming passwords, hashes, credentials, tokens or keys go, at any depth;
        the digest of a signed record stays (it proves what was signed)."""
        data = {
            "user": "ada",
            "credential_sha256": "abc",
            "nested": {"password_hash": "x", "note": "ok", "list": [{"api_token": "t"}]},
            "record_sha256": "def",
        }
        assert redact(data) == {
            "user": "ada",
            "nested": {"note": "ok", "list": [{}]},
            "record_sha256": "def",
        }
        view = entry_view(
            entry("user_added", {"user": "ada", "password_hash": "$argon2id$x"}), WORDS
        )
        assert "argon2" not in view.summary

    def test_signing_entries_read_as_sentences(self) -> None:
        """Signatures, refusals, sign-ins and requests say who did what."""
        signature = {
            "user": "olga",
            "full_name": "Olga E",
            "role": "operator",
            "meaning": "acknowledged",
            "comment": "door",
            "act": "ack",
            "record_sha256": "ab" * 32,
        }
        view = entry_view(entry("signature", signature), WORDS)
        assert view.who == "olga"
        assert view.summary == "ack, meaning 'acknowledged', by Olga E (olga, operator): door"
        refused = {"user": "x", "act": "sign_in", "reason": "wrong_password", "client": "console 1"}
        assert entry_view(entry("signature_refused", refused), WORDS).summary == (
            "sign_in refused from console 1: wrong_password"
        )
        request = {"act": "shelve", "params": {"until_ns": T0}}
        assert entry_view(entry("request", request), WORDS).summary == (
            "shelve A1 (until_ns 2026-11-18 11:06:40 UTC)"
        )

    def test_transients_batches_and_journal_entries_read_as_sentences(self) -> None:
        """A transient says what ran beyond which limit and for how long; batch and
        journal entries read as the report's audit extract tells them, not as JSON."""
        transient = {
            "site": "site1",
            "room": "FILL-A",
            "equipment": None,
            "sensor": "DP1",
            "parameter": "diff_pressure",
            "level": "action",
            "side": "low",
            "start_ns": T0,
            "end_ns": T0 + 10 * S,
            "peak": 1.5,
            "samples": 10,
            "limit": 10.0,
        }
        assert entry_view(entry("transient", {"transient": transient}), WORDS).summary == (
            "action transient, differential pressure low in FILL-A (DP1): peak 1.5 Pa "
            "against limit 10 Pa for 10 s, 10 samples; shorter than its rule, no alarm"
        )
        started = {
            "batch": "B-7",
            "rooms": ["FILL-A"],
            "start_ns": T0,
            "by": {"signature": {"user": "quinn"}},
        }
        assert entry_view(entry("batch_started", started, subject="B-7"), WORDS).summary == (
            "batch B-7 started at 2026-11-18T11:06:40Z in FILL-A, signed by quinn"
        )
        migrated = entry_view(entry("schema_migrated", {"from": 3, "to": 4, "detail": "x"}), WORDS)
        assert migrated.summary == "journal schema migrated from 3 to 4"

    def test_the_shelver_is_named_and_service_entries_are_envmons(self) -> None:
        """A shelved transition names the newest signature's user; the service's own
        entries read as envmon; anything else without a person shows a dash."""
        shelved = event_data(raised(A_ACTION))
        shelved["transition"] = "shelved"
        shelved["alarm"]["signatures"] = [{"user": "olga"}, {"user": "erik"}]
        assert entry_view(entry("alarm.shelved", shelved), WORDS).by == "erik"
        assert entry_view(entry("alarm.raised", event_data(raised(A_ACTION))), WORDS).by == "envmon"
        assert entry_view(entry("request", {"act": "ack", "params": {}}), WORDS).by == DASH


EXAMPLE_WORDS = ParameterWords(load_facility(EXAMPLE_FACILITY).parameters)
"""The example facility, which declares co2 (CO2, %) among others."""
A_CO2 = alarm("a-co2", room="CELL-B", sensor="INC-01-S1", parameter="co2", equipment="INC-01",
              level=Level.ACTION, value=3.742, peak=3.742, limit=4.5)  # fmt: skip


class TestParameterWords:
    def test_declared_parameter_reads_with_its_name_and_unit(self) -> None:
        """A parameter the facility file declares reads as it names it, in its unit."""
        assert EXAMPLE_WORDS.label("co2") == "CO2"
        assert EXAMPLE_WORDS.value(3.742, "co2") == "3.742 %"
        assert EXAMPLE_WORDS.value(-190.5, "cryo_temperature") == "-190.5 \u00b0C"
        assert EXAMPLE_WORDS.value(None, "co2") == DASH

    def test_builtin_parameters_read_as_before(self) -> None:
        """Built-in parameters and envmon's own alarm parameters keep the console's words."""
        for words in (WORDS, EXAMPLE_WORDS):
            assert words.label("particles_5_0um") == "particles \u2265 5.0 \u00b5m"
            assert words.label("diff_pressure") == "differential pressure"
            assert words.label("comm_loss") == "communication loss"
            assert words.label("calibration") == "calibration"
            assert words.value(12.3456, "diff_pressure") == "12.35 Pa"

    def test_comm_loss_reads_in_seconds(self) -> None:
        """A comm-loss alarm's value (silent for) and limit (stale after) are seconds."""
        for words in (WORDS, EXAMPLE_WORDS):
            assert words.unit("comm_loss") == "s"
            assert words.value(20.34, "comm_loss") == "20.34 s"
        assert WORDS.unit("sensor_fault") == ""

    def test_unknown_parameter_reads_as_its_id_without_a_unit(self) -> None:
        """A parameter no longer in the facility (an old journal entry) shows its id, bare."""
        assert WORDS.label("co2") == "co2"
        assert WORDS.value(3.742, "co2") == "3.742"
        assert EXAMPLE_WORDS.label("ph_value") == "ph_value"
        assert EXAMPLE_WORDS.value(7.0, "ph_value") == "7"

    def test_alarm_row_of_a_declared_parameter(self) -> None:
        """An incubator CO2 alarm's row names CO2 and shows value and limit in %."""
        row = alarm_row(A_CO2, T0, EXAMPLE_WORDS)
        assert (row.parameter_label, row.value, row.limit) == ("CO2", "3.742 %", "4.5 %")
        unknown = alarm_row(A_CO2, T0, WORDS)
        assert (unknown.parameter_label, unknown.value, unknown.limit) == ("co2", "3.742", "4.5")

    def test_a_rate_of_change_reads_per_minute(self) -> None:
        """A rate alarm's value, peak and limit are changes per minute, and say so."""
        assert EXAMPLE_WORDS.value(2.0, "temperature", Rule.RATE) == "2 \u00b0C/min"
        assert EXAMPLE_WORDS.value(0.5, "co2", Rule.RATE) == "0.5 %/min"
        assert WORDS.value(0.5, "ph_value", Rule.RATE) == "0.5 per min"
        warming = alarm("a-rate", room="CELL-B", sensor="FRZ-80-S1", parameter="temperature",
                        equipment="FRZ-80", rule=Rule.RATE, value=2.4, peak=3.1,
                        limit=2.0)  # fmt: skip
        row = alarm_row(warming, T0, EXAMPLE_WORDS)
        assert (row.value, row.limit) == ("3.1 \u00b0C/min", "2 \u00b0C/min")
        view = entry_view(entry("alarm.raised", event_data(raised(warming))), EXAMPLE_WORDS)
        assert view.summary.startswith(
            "action alarm, temperature in CELL-B/FRZ-80; rate of change; value 2.4 \u00b0C/min; "
            "peak 3.1 \u00b0C/min; limit 2 \u00b0C/min"
        )

    def test_audit_sentences_of_a_declared_parameter(self) -> None:
        """An alarm transition and a transient on a declared parameter read with its unit."""
        view = entry_view(entry("alarm.raised", event_data(raised(A_CO2))), EXAMPLE_WORDS)
        assert view.summary.startswith(
            "action alarm, CO2 in CELL-B/INC-01; value 3.742 %; peak 3.742 %; limit 4.5 %"
        )
        transient = {"room": "CELL-B", "equipment": "INC-01", "sensor": "INC-01-S1",
                     "parameter": "co2", "level": "alert", "side": "low", "start_ns": T0,
                     "end_ns": T0 + 300 * S, "peak": 4.61, "limit": 4.7, "samples": 5}  # fmt: skip
        assert entry_view(entry("transient", {"transient": transient}), EXAMPLE_WORDS).summary == (
            "alert transient, CO2 low in CELL-B/INC-01 (INC-01-S1): peak 4.61 % against "
            "limit 4.7 % for 300 s, 5 samples; shorter than its rule, no alarm"
        )
