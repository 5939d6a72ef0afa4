"""Configuration loads: the limits snapshot, the comparison with the last load, the records."""

from __future__ import annotations

import pytest

from envmon.config_diff import Change
from envmon.config_load import (
    ConfigLoad,
    ConfigSource,
    LoadBy,
    changes_json,
    compare_facility,
    compare_settings,
    config_load_of,
    facility_load_data,
)
from envmon.facility import Facility, parse_facility
from envmon.limits_snapshot import LimitSet, LimitsSnapshot, snapshot_of
from envmon.readings import RoomState
from tests.support.facilities import SMALL_FACILITY
from tests.support.journal_samples import T0
from tests.support.signing import signature

FACILITY = parse_facility(SMALL_FACILITY)
EDITED_TEXT = SMALL_FACILITY.replace("alert_low = 12.0", "alert_low = 13.0")
EDITED = parse_facility(EDITED_TEXT)


def load(
    facility: Facility = FACILITY,
    *,
    seq: int = 4,
    text: str | None = SMALL_FACILITY,
    limits: LimitsSnapshot | None = None,
) -> ConfigLoad:
    """A previous facility load as ``journal.configs.last`` gives it."""
    return ConfigLoad(
        seq=seq,
        at_ns=T0,
        what="facility",
        path="/etc/envmon/facility.toml",
        sha256=facility.sha256,
        source="service start",
        limits=limits if limits is not None else snapshot_of(facility),
        text=text,
        text_seq=seq if text is not None else None,
        limits_seq=seq,
    )


class TestLimitsSnapshot:
    def test_only_rooms_and_parameters_with_limits(self) -> None:
        """Grade A particles (Annex 1) and PREP-C's pressure and particles; nothing else."""
        snapshot = snapshot_of(FACILITY)
        assert sorted(snapshot.rooms) == ["FILL-A", "PREP-C"]
        assert sorted(snapshot.rooms["FILL-A"].parameters) == ["particles_0_5um", "particles_5_0um"]
        assert "temperature" not in snapshot.rooms["PREP-C"].parameters

    def test_a_state_holds_the_limits_set_and_rules_off_default(self) -> None:
        """The record of a state is its limit keys and the rules that are not defaults."""
        snapshot = snapshot_of(FACILITY)
        record = snapshot.to_record()
        assert record["PREP-C"]["limits"]["diff_pressure"]["at_rest"] == {
            "alert_low": 12.0,
            "action_low": 10.0,
        }
        assert record["PREP-C"]["default_state"] == "strictest"
        ruled = LimitSet(action_high=5.0, delay_s=60.0, n_of_m=(2, 5))
        assert ruled.to_record() == {"action_high": 5.0, "delay_s": 60.0, "n_of_m": [2, 5]}

    def test_record_round_trip_and_lookup(self) -> None:
        """A snapshot survives its record; ``limits`` answers per room, parameter and state."""
        snapshot = snapshot_of(FACILITY)
        assert LimitsSnapshot.from_record(snapshot.to_record()) == snapshot
        assert snapshot.limits("FILL-A", "particles_0_5um", RoomState.AT_REST) == LimitSet(
            action_high=3520.0
        )
        assert snapshot.limits("FILL-A", "temperature", RoomState.AT_REST) is None
        assert snapshot.limits("NOPE", "temperature", RoomState.AT_REST) is None

    def test_flat_keys_are_those_of_the_facility_diff(self) -> None:
        """Snapshot keys read like config_diff's resolved keys."""
        flat = snapshot_of(FACILITY).flat()
        assert flat["resolved.PREP-C.diff_pressure.in_operation.alert_low"] == 12.0


class TestCompareFacility:
    def test_the_first_load_has_nothing_to_compare_with(self) -> None:
        """No previous load: no changes, and the note says why."""
        compared = compare_facility(None, FACILITY, snapshot_of(FACILITY))
        assert compared.changes is None and "first facility load" in compared.note

    def test_the_same_file_has_no_changes(self) -> None:
        """The same bytes resolving to the same limits: an empty difference."""
        compared = compare_facility(load(), FACILITY, snapshot_of(FACILITY))
        assert compared.changes == () and compared.note == ""

    def test_an_edited_file_shows_every_key_it_moved(self) -> None:
        """The file's key and the resolved limits in both states, old and new."""
        compared = compare_facility(load(), EDITED, snapshot_of(EDITED))
        assert compared.changes is not None
        assert {c.key: (c.old, c.new) for c in compared.changes} == {
            "facility.rooms.PREP-C.limits.diff_pressure.alert_low": (12.0, 13.0),
            "resolved.PREP-C.diff_pressure.at_rest.alert_low": (12.0, 13.0),
            "resolved.PREP-C.diff_pressure.in_operation.alert_low": (12.0, 13.0),
        }

    def test_the_same_file_with_other_limits_shows_the_limits(self) -> None:
        """Same bytes, limits resolved otherwise (another envmon): the limits differ."""
        older = load(limits=snapshot_of(EDITED))
        compared = compare_facility(older, FACILITY, snapshot_of(FACILITY))
        assert compared.changes is not None and len(compared.changes) == 2
        assert "another envmon version" in compared.note

    def test_a_previous_load_without_its_text_cannot_be_compared(self) -> None:
        """A load journaled without its text (older records): no difference, said why."""
        compared = compare_facility(load(text=None), EDITED, snapshot_of(EDITED))
        assert compared.changes is None and "without its text" in compared.note

    def test_a_previous_file_that_no_longer_validates(self) -> None:
        """An old text this envmon refuses: no difference, with the validation error."""
        broken = load(text=SMALL_FACILITY.replace('grade = "C"', 'grade = "Z"'))
        compared = compare_facility(broken, EDITED, snapshot_of(EDITED))
        assert compared.changes is None and "no longer validates" in compared.note


class TestCompareSettings:
    def test_settings_are_compared_key_by_key(self) -> None:
        """The flattened settings of the last load against these."""
        previous = ConfigLoad(1, T0, "settings", "/e.toml", "00", "service start",
                              flat={"settings.mqtt.port": 1883})  # fmt: skip
        compared = compare_settings(previous, {"settings.mqtt.port": 1884})
        assert compared.changes == (Change("settings.mqtt.port", 1883, 1884),)

    def test_the_first_settings_load(self) -> None:
        """Nothing before: no changes, said why."""
        assert compare_settings(None, {}).changes is None


class TestFacilityLoadData:
    by = LoadBy(ConfigSource.SERVICE_START)

    def data(self, previous: ConfigLoad | None, facility: Facility, text: str) -> dict[str, object]:
        limits = snapshot_of(facility)
        compared = compare_facility(previous, facility, limits)
        return facility_load_data(facility, text, limits, previous, compared, self.by, "0.1")

    def test_a_first_load_holds_its_text_and_limits(self) -> None:
        """The first load carries the file's text and its limits."""
        data = self.data(None, FACILITY, SMALL_FACILITY)
        assert (
            data["text"] == SMALL_FACILITY and data["limits"] == snapshot_of(FACILITY).to_record()
        )
        assert (data["changes"], data["by"], data["source"]) == (None, None, "service start")

    def test_an_unchanged_load_refers_to_the_earlier_entry(self) -> None:
        """Same file, same limits: the entry names the entry holding them."""
        data = self.data(load(seq=4), FACILITY, SMALL_FACILITY)
        assert (data.get("text"), data["text_seq"]) == (None, 4)
        assert (data.get("limits"), data["limits_seq"]) == (None, 4)
        assert data["changes"] == []

    def test_a_changed_load_holds_its_new_text_and_limits(self) -> None:
        """Another file: its own text and limits, and the difference."""
        data = self.data(load(seq=4), EDITED, EDITED_TEXT)
        assert data["text"] == EDITED_TEXT and "text_seq" not in data
        assert data["limits"] == snapshot_of(EDITED).to_record()
        assert len(data["changes"]) == 3  # type: ignore[arg-type]

    def test_a_signed_load_carries_the_signature_and_reason(self) -> None:
        """``by`` is the signature's record; ``reason`` its comment."""
        sig = signature()
        by = LoadBy(ConfigSource.SIGNED_RELOAD, sig, 9, 3)
        limits = snapshot_of(EDITED)
        compared = compare_facility(load(), EDITED, limits)
        data = facility_load_data(EDITED, EDITED_TEXT, limits, load(), compared, by, "0.1")
        assert data["by"] == sig.to_record() and data["reason"] == sig.comment
        assert (data["signature_seq"], data["request_id"]) == (9, 3)


class TestConfigLoadOf:
    def test_the_first_record_format_is_read(self) -> None:
        """Entries written before differences were recorded read as unsigned, unknown change."""
        loaded = config_load_of(3, T0, "facility", {"path": "/f", "sha256": "ab", "detail":
                                "reload (SIGHUP)"}, None)  # fmt: skip
        assert (loaded.what, loaded.source, loaded.signed, loaded.changes) == (
            "facility",
            "reload (SIGHUP)",
            False,
            None,
        )
        assert "before envmon recorded differences" in loaded.note

    def test_json_of_an_unsigned_and_a_signed_load(self) -> None:
        """``by`` is "unsigned" or the signature object; changes are key, old, new."""
        changes = (Change("k", 1, 2),)
        unsigned = ConfigLoad(5, T0, "facility", "/f", "ab", "SIGHUP", changes=changes)
        assert unsigned.to_json() | {"at": "-"} == {
            "at": "-",
            "what": "facility",
            "path": "/f",
            "sha256": "ab",
            "by": "unsigned",
            "source": "SIGHUP",
            "reason": "",
            "changes": [{"key": "k", "old": 1, "new": 2}],
            "note": "",
            "seq": 5,
        }
        signed = ConfigLoad(6, T0, "facility", "/f", "ab", "envmon reload", signature(), reason="x")
        assert signed.to_json()["by"] == signature().to_json()

    @pytest.mark.parametrize("value", [[1, 2], 1.5, "x", None, True])
    def test_changes_survive_json(self, value: object) -> None:
        """What a signature covers is plain JSON."""
        assert changes_json([Change("k", value, None)]) == [{"key": "k", "old": value, "new": None}]
