"""Built-in GMP limits and the resolution of a room's limits with their sources."""

from __future__ import annotations

import pytest

from envmon.errors import ConfigError
from envmon.facility import Room
from envmon.gmp import (
    annex1_action_limit,
    iso_class_limit,
    iso_concentration_limit,
    resolve_limits,
)
from envmon.readings import (
    DIFF_PRESSURE,
    PARTICLES_0_5UM,
    PARTICLES_5_0UM,
    TEMPERATURE,
    RoomState,
)

AT_REST, IN_OP = RoomState.AT_REST, RoomState.IN_OPERATION


def room(**fields: object) -> Room:
    return Room.model_validate({"id": "R1", **fields})


class TestAnnex1Table:
    @pytest.mark.parametrize(
        ("grade", "state", "p05", "p50"),
        [
            ("A", AT_REST, 3_520, 29),
            ("A", IN_OP, 3_520, 29),
            ("B", AT_REST, 3_520, 29),
            ("B", IN_OP, 352_000, 2_930),
            ("C", AT_REST, 352_000, 2_930),
            ("C", IN_OP, 3_520_000, 29_300),
            ("D", AT_REST, 3_520_000, 29_300),
        ],
    )
    def test_table_values(self, grade: str, state: RoomState, p05: float, p50: float) -> None:
        """Each grade and state has the contract's Annex 1 numbers for both sizes."""
        assert annex1_action_limit(grade, state, PARTICLES_0_5UM) == p05
        assert annex1_action_limit(grade, state, PARTICLES_5_0UM) == p50

    def test_grade_d_in_operation_is_site_defined(self) -> None:
        """Annex 1 gives no number for grade D in operation."""
        assert annex1_action_limit("D", IN_OP, PARTICLES_0_5UM) is None
        assert annex1_action_limit("D", IN_OP, PARTICLES_5_0UM) is None

    def test_no_annex1_number_for_climate(self) -> None:
        """Temperature has no Annex 1 limit."""
        assert annex1_action_limit("A", IN_OP, TEMPERATURE) is None


class TestIsoFormula:
    @pytest.mark.parametrize(
        ("iso_class", "size_um", "expected"),
        [
            (5, 0.5, 3_520),
            (6, 0.5, 35_200),
            (7, 0.5, 352_000),
            (8, 0.5, 3_520_000),
            (9, 0.5, 35_200_000),
            (6, 5.0, 293),
            (7, 5.0, 2_930),
            (8, 5.0, 29_300),
            (9, 5.0, 293_000),
            (4, 0.5, 352),
            (3, 0.5, 35),
            (2, 0.5, 4),
            (5, 1.0, 832),
            (5, 0.3, 10_200),
            (1, 0.2, 2),
        ],
    )
    def test_iso_table_1_values(self, iso_class: float, size_um: float, expected: float) -> None:
        """The formula rounded to three significant figures reproduces ISO 14644-1 Table 1."""
        assert iso_concentration_limit(iso_class, size_um) == expected

    def test_intermediate_class(self) -> None:
        """Half classes follow the same formula (ISO 6.5 at 0.5 µm is 111 000)."""
        assert iso_concentration_limit(6.5, 0.5) == 111_000

    def test_iso5_has_no_5um_limit(self) -> None:
        """ISO 14644-1 gives no ≥5.0 µm limit below class 6 (sampling statistics)."""
        assert iso_class_limit(5, PARTICLES_5_0UM) is None
        assert iso_class_limit(6, PARTICLES_5_0UM) == 293

    def test_iso1_and_iso2_have_no_05um_limit(self) -> None:
        """ISO 14644-1:2015 leaves ≥0.5 µm blank for ISO 1 and ISO 2 (1999 gave ISO 2 a 4);
        ISO 3 has 35."""
        assert iso_class_limit(1, PARTICLES_0_5UM) is None
        assert iso_class_limit(2, PARTICLES_0_5UM) is None
        assert iso_class_limit(3, PARTICLES_0_5UM) == 35

    def test_iso9_applies_in_operation_only(self) -> None:
        """ISO 9 has limits in operation, none at rest; ISO 8 has both."""
        assert iso_class_limit(9, PARTICLES_0_5UM, IN_OP) == 35_200_000
        assert iso_class_limit(9, PARTICLES_0_5UM, AT_REST) is None
        assert iso_class_limit(8, PARTICLES_0_5UM, AT_REST) == 3_520_000
        lim = resolve_limits(room(iso_class=9), PARTICLES_0_5UM, AT_REST)
        assert lim.action_high is None
        assert lim.sources["action_high"] == ("none: ISO 14644-1 class 9 applies in operation only")
        two = resolve_limits(room(iso_class=2), PARTICLES_0_5UM, IN_OP)
        assert two.sources["action_high"] == "none: ISO 14644-1 has no ≥0.5 µm limit for class 2"

    def test_not_a_particle_parameter(self) -> None:
        """ISO classes say nothing about pressure."""
        assert iso_class_limit(7, DIFF_PRESSURE) is None


class TestResolveLimits:
    def test_annex1_action_limit_and_source(self) -> None:
        """A grade B room in operation gets the table value as action_high, named as such."""
        lim = resolve_limits(room(grade="B"), PARTICLES_5_0UM, IN_OP)
        assert lim.action_high == 2_930
        assert lim.sources["action_high"] == "Annex 1 table, grade B in operation"
        assert lim.alert_high is None
        assert lim.sources["alert_high"] == "default"

    def test_state_changes_the_builtin(self) -> None:
        """The same room at rest gets the at-rest number."""
        lim = resolve_limits(room(grade="B"), PARTICLES_5_0UM, AT_REST)
        assert lim.action_high == 29
        assert lim.sources["action_high"] == "Annex 1 table, grade B at rest"

    def test_defaults_of_the_rules(self) -> None:
        """Without overrides: no delay, one sample, no N of M, no window, no deadband."""
        lim = resolve_limits(room(grade="A"), PARTICLES_0_5UM, IN_OP)
        assert (lim.delay_s, lim.consecutive, lim.n_of_m, lim.window_s, lim.deadband) == (
            0.0,
            1,
            None,
            None,
            0.0,
        )
        assert {lim.sources[k] for k in ("delay_s", "consecutive", "deadband")} == {"default"}

    def test_override_only_what_is_named(self) -> None:
        """consecutive from the file, action_high still from Annex 1."""
        r = room(grade="A", limits={"particles_5_0um": {"consecutive": 2, "alert_high": 1}})
        lim = resolve_limits(r, PARTICLES_5_0UM, IN_OP)
        assert lim.consecutive == 2
        assert lim.alert_high == 1
        assert lim.action_high == 29
        assert lim.sources["consecutive"] == "facility file"
        assert lim.sources["alert_high"] == "facility file"
        assert lim.sources["action_high"] == "Annex 1 table, grade A in operation"

    def test_facility_file_overrides_builtin_action(self) -> None:
        """An action_high in the file replaces the Annex 1 number."""
        r = room(grade="C", limits={"particles_0_5um": {"action_high": 100_000}})
        lim = resolve_limits(r, PARTICLES_0_5UM, AT_REST)
        assert lim.action_high == 100_000
        assert lim.sources["action_high"] == "facility file"

    def test_state_specific_override(self) -> None:
        """A key under the state's table applies in that state only, and says so."""
        r = room(
            grade="B",
            limits={"diff_pressure": {"action_low": 10, "delay_s": 60, "at_rest": {"delay_s": 5}}},
        )
        rest = resolve_limits(r, DIFF_PRESSURE, AT_REST)
        oper = resolve_limits(r, DIFF_PRESSURE, IN_OP)
        assert (rest.delay_s, oper.delay_s) == (5, 60)
        assert rest.sources["delay_s"] == "facility file, at_rest"
        assert oper.sources["delay_s"] == "facility file"
        assert rest.action_low == oper.action_low == 10

    def test_iso_class_room(self) -> None:
        """A room declared by ISO class gets the formula's limit in both states."""
        r = room(iso_class=7)
        for state in RoomState:
            lim = resolve_limits(r, PARTICLES_5_0UM, state)
            assert lim.action_high == 2_930
            assert lim.sources["action_high"] == "ISO 14644-1 class 7"

    def test_iso5_room_says_why_there_is_no_5um_limit(self) -> None:
        """The source explains the missing ≥5.0 µm limit of ISO 5."""
        lim = resolve_limits(room(iso_class=5), PARTICLES_5_0UM, IN_OP)
        assert lim.action_high is None
        assert "no ≥5 µm limit for class 5" in lim.sources["action_high"]

    def test_grade_d_in_operation_without_iso(self) -> None:
        """Grade D in operation has no built-in limit; the source says it is site-defined."""
        lim = resolve_limits(room(grade="D"), PARTICLES_0_5UM, IN_OP)
        assert lim.action_high is None
        assert "site-defined" in lim.sources["action_high"]
        assert not lim.has_limits

    def test_grade_d_in_operation_falls_back_to_iso_class(self) -> None:
        """A grade D room that also names an ISO class gets that class in operation."""
        r = room(grade="D", iso_class=8)
        assert resolve_limits(r, PARTICLES_0_5UM, IN_OP).action_high == 3_520_000
        assert resolve_limits(r, PARTICLES_0_5UM, IN_OP).sources["action_high"] == (
            "ISO 14644-1 class 8"
        )
        assert resolve_limits(r, PARTICLES_0_5UM, AT_REST).sources["action_high"] == (
            "Annex 1 table, grade D at rest"
        )

    def test_climate_has_no_builtin(self) -> None:
        """Temperature limits come only from the file."""
        lim = resolve_limits(room(grade="A"), TEMPERATURE, IN_OP)
        assert not lim.has_limits

    def test_alert_above_builtin_action_is_refused(self) -> None:
        """An alert limit above the Annex 1 action limit is a config error naming both."""
        r = room(grade="A", limits={"particles_5_0um": {"alert_high": 50}})
        with pytest.raises(ConfigError) as err:
            resolve_limits(r, PARTICLES_5_0UM, IN_OP)
        message = str(err.value)
        assert "room R1, limits.particles_5_0um (in_operation)" in message
        assert "alert_high 50 (facility file) must be below action_high 29" in message

    def test_low_not_below_high_is_refused(self) -> None:
        """A low limit at or above a high limit is refused."""
        r = room(grade="A", limits={"temperature": {"action_low": 25, "action_high": 25}})
        with pytest.raises(ConfigError, match=r"action_low 25 .* must be below action_high 25"):
            resolve_limits(r, TEMPERATURE, IN_OP)

    def test_alert_and_action_may_be_equal(self) -> None:
        """Alert equal to action is allowed (a site without early warning)."""
        r = room(grade="A", limits={"temperature": {"alert_high": 25, "action_high": 25}})
        assert resolve_limits(r, TEMPERATURE, IN_OP).alert_high == 25
