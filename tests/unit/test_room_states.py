"""The state in force over event time: unknown, clean-up, and the strictest limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from envmon.alarms.room_states import RoomStateHistory, state_spans
from envmon.errors import ConfigError
from envmon.facility import Room, parse_facility
from envmon.gmp import limits_in_force, resolve_facility, resolve_limits, strictest_limits
from envmon.readings import (
    NS_PER_S,
    PARTICLES_0_5UM,
    PARTICLES_5_0UM,
    TEMPERATURE,
    RoomState,
    StateInForce,
)

S = NS_PER_S
REST, OPER = RoomState.AT_REST, RoomState.IN_OPERATION
IN_FORCE = StateInForce


class TestStateInForce:
    def test_unknown_until_the_first_change_with_a_strictest_default(self) -> None:
        """No change known and a strictest default: unknown, before and after the change."""
        history = RoomStateHistory(None, 600 * S)
        assert history.at(0) is IN_FORCE.UNKNOWN
        history.record(100 * S, OPER)
        assert (history.at(100 * S - 1), history.at(100 * S)) == (
            IN_FORCE.UNKNOWN,
            IN_FORCE.IN_OPERATION,
        )

    def test_a_named_default_is_in_force_until_known(self) -> None:
        """default_state at_rest: at rest until a change, never unknown."""
        assert RoomStateHistory(REST).at(0) is IN_FORCE.AT_REST

    def test_clean_up_exactly_clean_up_s_from_the_switch(self) -> None:
        """In operation to at rest at 100 s, clean_up_s 600: clean-up over [100 s, 700 s)."""
        history = RoomStateHistory(None, 600 * S)
        history.record(0, OPER)
        history.record(100 * S, REST)
        assert history.at(100 * S - 1) is IN_FORCE.IN_OPERATION
        assert history.at(100 * S) is IN_FORCE.CLEAN_UP
        assert history.at(700 * S - 1) is IN_FORCE.CLEAN_UP
        assert history.at(700 * S) is IN_FORCE.AT_REST

    def test_in_operation_again_during_clean_up(self) -> None:
        """Back in operation during clean-up ends it; the next switch starts a new one."""
        history = RoomStateHistory(None, 600 * S)
        for ts, state in ((0, OPER), (100, REST), (300, OPER), (400, REST)):
            history.record(ts * S, state)
        assert history.at(299 * S) is IN_FORCE.CLEAN_UP
        assert history.at(300 * S) is IN_FORCE.IN_OPERATION
        assert history.at(999 * S) is IN_FORCE.CLEAN_UP
        assert history.at(1000 * S) is IN_FORCE.AT_REST

    def test_a_repeated_at_rest_neither_restarts_nor_ends_clean_up(self) -> None:
        """A retained at_rest seen again during clean-up changes nothing."""
        history = RoomStateHistory(None, 600 * S)
        for ts, state in ((0, OPER), (100, REST), (500, REST)):
            history.record(ts * S, state)
        assert history.at(650 * S) is IN_FORCE.CLEAN_UP
        assert history.at(700 * S) is IN_FORCE.AT_REST

    def test_no_clean_up_from_unknown_or_with_zero(self) -> None:
        """At rest straight from unknown, or with clean_up_s 0, is at rest at once."""
        from_unknown = RoomStateHistory(None, 600 * S)
        from_unknown.record(100 * S, REST)
        assert from_unknown.at(100 * S) is IN_FORCE.AT_REST
        zero = RoomStateHistory(OPER, 0)
        zero.record(100 * S, REST)
        assert zero.at(100 * S) is IN_FORCE.AT_REST

    def test_a_default_in_operation_is_cleaned_up_after(self) -> None:
        """A named default in operation counts as the state the room left."""
        history = RoomStateHistory(OPER, 600 * S)
        history.record(100 * S, REST)
        assert history.at(100 * S) is IN_FORCE.CLEAN_UP

    def test_a_late_change_rederives_the_later_ones(self) -> None:
        """An in_operation arriving after the at_rest that follows it starts the clean-up."""
        history = RoomStateHistory(None, 600 * S)
        history.record(100 * S, REST)
        assert history.at(200 * S) is IN_FORCE.AT_REST
        history.record(50 * S, OPER)
        assert history.at(200 * S) is IN_FORCE.CLEAN_UP

    def test_reconfigure_changes_the_clean_up(self) -> None:
        """A reload with another clean_up_s applies to past switches as well."""
        history = RoomStateHistory(None, 600 * S)
        history.record(0, OPER)
        history.record(100 * S, REST)
        history.configure(None, 60 * S)
        assert history.at(160 * S) is IN_FORCE.AT_REST

    def test_spans_over_a_window(self) -> None:
        """Spans join equal states and split at each change and clean-up end."""
        changes = [(100 * S, OPER), (200 * S, REST), (250 * S, REST)]
        assert state_spans(None, 300, changes, 0, 1000 * S) == [
            (IN_FORCE.UNKNOWN, 0, 100 * S),
            (IN_FORCE.IN_OPERATION, 100 * S, 200 * S),
            (IN_FORCE.CLEAN_UP, 200 * S, 500 * S),
            (IN_FORCE.AT_REST, 500 * S, 1000 * S),
        ]


def room(**fields: object) -> Room:
    return Room.model_validate({"id": "R1", **fields})


class TestStrictestLimits:
    def test_grade_b_particles_take_the_at_rest_numbers(self) -> None:
        """Grade B unknown: ≥0.5 µm 3 520, not 352 000; ≥5.0 µm 29, not 2 930."""
        r = room(grade="B")
        for parameter, limit in ((PARTICLES_0_5UM, 3_520), (PARTICLES_5_0UM, 29)):
            merged = strictest_limits(
                resolve_limits(r, parameter, REST), resolve_limits(r, parameter, OPER)
            )
            assert merged.action_high == limit
            assert merged.sources["action_high"].startswith("strictest: at_rest, Annex 1")

    def test_per_key_lower_high_higher_low_and_missing_taken_from_the_other(self) -> None:
        """Each key from the state stricter on it; a key one state lacks from the other."""
        r = room(
            grade="C",
            limits={
                TEMPERATURE: {
                    "at_rest": {"alert_high": 24, "action_high": 26, "alert_low": 17},
                    "in_operation": {"alert_high": 22, "action_low": 16, "alert_low": 18},
                }
            },
        )
        merged = strictest_limits(
            resolve_limits(r, TEMPERATURE, REST), resolve_limits(r, TEMPERATURE, OPER)
        )
        assert (merged.alert_high, merged.action_high, merged.alert_low, merged.action_low) == (
            22,
            26,
            18,
            16,
        )

    def test_rules_are_the_whole_set_of_the_stricter_action_limit_s_state(self) -> None:
        """Delay, consecutive and window come together from the state whose action limit
        is the stricter, never mixed key by key."""
        r = room(
            grade="C",
            limits={
                PARTICLES_0_5UM: {
                    "at_rest": {"delay_s": 120, "consecutive": 3},
                    "in_operation": {"delay_s": 30, "window_s": 600},
                }
            },
        )
        merged = strictest_limits(
            resolve_limits(r, PARTICLES_0_5UM, REST), resolve_limits(r, PARTICLES_0_5UM, OPER)
        )
        # Grade C at rest (352 000) is stricter than in operation (3 520 000).
        assert (merged.delay_s, merged.consecutive, merged.window_s) == (120, 3, None)
        assert merged.sources["delay_s"].startswith("strictest: rules of at_rest")

    def test_in_force_mapping(self) -> None:
        """Clean-up judges by in-operation limits, unknown by the strictest."""
        r = room(grade="B")
        by_state = {s: resolve_limits(r, PARTICLES_0_5UM, s) for s in RoomState}
        in_force = limits_in_force(by_state)
        assert in_force[IN_FORCE.CLEAN_UP] is by_state[OPER]
        assert in_force[IN_FORCE.UNKNOWN].action_high == 3_520


FACILITY_HEAD = 'site = "s"\n[[rooms]]\nid = "R"\ngrade = "B"\n'


class TestValidation:
    @pytest.mark.parametrize(
        ("line", "message"),
        [
            ("clean_up_s = -5", "f.toml: rooms.0.clean_up_s: Input should be greater than"),
            ('default_state = "laxest"', "f.toml: rooms.0.default_state: Input should be"),
        ],
    )
    def test_bad_keys_are_named_with_the_file(self, line: str, message: str) -> None:
        """A negative clean_up_s or an unknown default_state names file and key."""
        with pytest.raises(ConfigError) as caught:
            parse_facility(FACILITY_HEAD + line + "\n", Path("f.toml"))
        assert str(caught.value).startswith(message)

    def test_defaults(self) -> None:
        """Absent keys: default_state strictest, clean_up_s 1200 (Annex 1's 15-20 minutes)."""
        r = parse_facility(FACILITY_HEAD).model.rooms[0]
        assert (r.default_state, r.default_room_state, r.clean_up_s) == ("strictest", None, 1200)

    def test_crossing_strictest_limits_are_refused(self) -> None:
        """Per-state ranges that do not overlap cannot be merged: the error says where and
        why; a named default_state never uses the merge and is accepted."""
        limits = (
            "[rooms.limits.temperature.at_rest]\nalert_low = 10\nalert_high = 20\n"
            "[rooms.limits.temperature.in_operation]\nalert_low = 25\nalert_high = 40\n"
        )
        with pytest.raises(ConfigError, match=r"room R, limits.temperature \(default_state "):
            resolve_facility(parse_facility(FACILITY_HEAD + limits))
        named = FACILITY_HEAD + 'default_state = "at_rest"\n' + limits
        resolve_facility(parse_facility(named))
