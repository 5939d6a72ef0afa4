"""The facility file: validation with precise errors, per-state limit overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from envmon.errors import ConfigError
from envmon.facility import load_facility, parse_facility
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
        """The shipped config/facility.toml has the suite the issue asks for."""
        f = load_facility(Path(__file__).parents[2] / "config" / "facility.toml")
        grades = sorted(r.grade or "" for r in f.rooms.values())
        assert grades == ["A", "B", "C", "D", "D"]
        for room in f.rooms:
            assert {s.kind.value for s in f.sensors_in(room)} == {
                "particles",
                "climate",
                "pressure",
            }
