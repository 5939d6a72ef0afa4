"""Configuration differences key by key: flattening, masking secrets, the diff."""

from __future__ import annotations

from pathlib import Path

from envmon.config_diff import MASKED, Change, diff, flatten, flatten_facility, flatten_settings
from envmon.facility import parse_facility
from envmon.settings import load_settings
from tests.support.facilities import SMALL_FACILITY


class TestFlatten:
    def test_nested_tables_become_dotted_keys(self) -> None:
        """Tables nest into dotted keys; None is left out."""
        assert flatten({"a": {"b": 1, "c": None}, "d": "x"}) == {"a.b": 1, "d": "x"}

    def test_entries_with_an_id_are_keyed_by_it(self) -> None:
        """Lists of tables with ``id`` are keyed by id, so their order does not matter."""
        first = flatten({"rooms": [{"id": "A", "grade": "A"}, {"id": "B", "grade": "B"}]})
        second = flatten({"rooms": [{"id": "B", "grade": "B"}, {"id": "A", "grade": "A"}]})
        assert first == second == {"rooms.A.grade": "A", "rooms.B.grade": "B"}

    def test_lists_of_tables_without_id_by_position(self) -> None:
        """Schedules have no id: they are keyed by their place in the file."""
        assert flatten({"s": [{"cron": "0 6 * * *"}]}) == {"s.0.cron": "0 6 * * *"}

    def test_lists_of_values_are_one_value(self) -> None:
        """``n_of_m = [3, 10]`` is one value, not two keys."""
        assert flatten({"n_of_m": (3, 10)}) == {"n_of_m": [3, 10]}


class TestFacility:
    def test_resolved_limits_are_part_of_the_facility(self) -> None:
        """Annex 1 numbers the file never names still appear, per room state."""
        flat = flatten_facility(parse_facility(SMALL_FACILITY))
        assert flat["resolved.FILL-A.particles_0_5um.at_rest.action_high"] == 3520.0
        assert flat["resolved.PREP-C.diff_pressure.in_operation.action_low"] == 10.0
        assert flat["facility.rooms.PREP-C.limits.diff_pressure.alert_low"] == 12.0

    def test_a_grade_change_shows_the_limits_it_moved(self) -> None:
        """Changing a room's grade lists the grade and every resolved limit it changed."""
        old = flatten_facility(parse_facility(SMALL_FACILITY))
        new = flatten_facility(parse_facility(SMALL_FACILITY.replace('grade = "C"', 'grade = "B"')))
        changes = {c.key: (c.old, c.new) for c in diff(old, new)}
        assert changes["facility.rooms.PREP-C.grade"] == ("C", "B")
        assert changes["resolved.PREP-C.particles_0_5um.at_rest.action_high"] == (352000.0, 3520.0)
        assert all(key.startswith(("facility.rooms.PREP-C", "resolved.PREP-C")) for key in changes)

    def test_same_file_reordered_changes_nothing(self) -> None:
        """Moving a sensor's table elsewhere in the file is not a change."""
        text = SMALL_FACILITY
        head, dp = text.split('[[sensors]]\nid = "DP1"')
        moved = head.replace(
            '[[sensors]]\nid = "PC1"',
            '[[sensors]]\nid = "DP1"' + dp.rstrip() + ('\n\n[[sensors]]\nid = "PC1"'),
        )
        assert (
            diff(flatten_facility(parse_facility(text)), flatten_facility(parse_facility(moved)))
            == []
        )


class TestSettings:
    def test_secrets_are_masked(self, tmp_path: Path) -> None:
        """A password or token shows only as set, never its value."""
        path = tmp_path / "envmon.toml"
        path.write_text('[mqtt]\nusername = "envmon"\npassword = "hunter2-secret"\n')
        flat = flatten_settings(load_settings(path))
        assert flat["settings.mqtt.password"] == MASKED
        assert "hunter2-secret" not in repr(flat)


class TestDiff:
    def test_added_removed_changed(self) -> None:
        """Each differing key once, sorted; an absent side is None."""
        assert diff({"a": 1, "b": 2}, {"b": 3, "c": 4}) == [
            Change("a", 1, None),
            Change("b", 2, 3),
            Change("c", None, 4),
        ]

    def test_change_as_json(self) -> None:
        """The report's ``changes`` entries."""
        assert Change("k", 1, 2).to_json() == {"key": "k", "old": 1, "new": 2}
