"""The signing rules with plain values: roles and acts, passwords, lockout, ageing, meanings."""

from __future__ import annotations

import pytest

from envmon.errors import EnvmonError
from envmon.signing.rules import (
    DEFAULT_MEANINGS,
    NS_PER_DAY,
    Act,
    Refusal,
    Role,
    SecurityPolicy,
    choose_meaning,
    is_locked_out,
    locked_until,
    may,
    password_expired,
    password_expires_ns,
    password_problem,
    refusal_message,
    shelve_until_ns,
    user_name_problem,
)

S = 1_000_000_000
T0 = 1_795_000_000 * S
POLICY = SecurityPolicy()

# The whole table of section 8 and the brief: who may sign what.
ALLOWED: dict[Role, set[Act]] = {
    Role.OPERATOR: {Act.ACK},
    Role.ENGINEER: {
        Act.ACK,
        Act.SHELVE,
        Act.UNSHELVE,
        Act.OUT_OF_SERVICE,
        Act.IN_SERVICE,
        Act.ROOM_STATE,
        Act.CALIBRATION,
        Act.RELOAD,
        Act.BATCH,
    },
    Role.QA: {Act.ACK, Act.REVIEW, Act.BATCH},
    Role.ADMIN: {
        Act.ACK,
        Act.SHELVE,
        Act.UNSHELVE,
        Act.OUT_OF_SERVICE,
        Act.IN_SERVICE,
        Act.ROOM_STATE,
        Act.CALIBRATION,
        Act.RELOAD,
        Act.BATCH,
        Act.MANAGE_USERS,
    },
}


class TestMay:
    @pytest.mark.parametrize("role", list(Role))
    @pytest.mark.parametrize("act", list(Act))
    def test_each_role_against_each_act(self, role: Role, act: Act) -> None:
        """A role may sign exactly the acts the contract gives it."""
        assert may(role, act) is (act in ALLOWED[role])

    def test_operator_may_not_shelve_but_engineer_may(self) -> None:
        """Shelving needs an engineer (or admin); acknowledging does not."""
        assert not may(Role.OPERATOR, Act.SHELVE)
        assert may(Role.ENGINEER, Act.SHELVE)

    def test_qa_reviews_but_does_not_operate_the_plant(self) -> None:
        """QA review-signs and runs batches, and never shelves or changes service states."""
        assert may(Role.QA, Act.REVIEW)
        assert not may(Role.QA, Act.SHELVE) and not may(Role.QA, Act.OUT_OF_SERVICE)

    def test_only_admin_manages_users(self) -> None:
        """Managing users is the admin's alone."""
        assert [r for r in Role if may(r, Act.MANAGE_USERS)] == [Role.ADMIN]


class TestPasswordPolicy:
    def test_long_varied_password_passes(self) -> None:
        """A password of the minimum length with varied characters is accepted."""
        assert password_problem("jdoe", "correct horse", POLICY) is None

    def test_too_short(self) -> None:
        """Fewer characters than min_password_length are refused, naming the minimum."""
        assert password_problem("jdoe", "short pw", POLICY) == (
            "a password needs at least 10 characters"
        )

    def test_minimum_comes_from_the_policy(self) -> None:
        """The minimum is the policy's, not a constant."""
        assert password_problem("jdoe", "abcdefghijkl", SecurityPolicy(min_password_length=14))
        assert (
            password_problem("jdoe", "abcdefghijkl", SecurityPolicy(min_password_length=12)) is None
        )

    def test_containing_the_user_name(self) -> None:
        """A password containing the user name (any case) is refused."""
        assert password_problem("jdoe", "my JDoe password", POLICY) == (
            "a password may not contain the user name"
        )

    def test_too_few_distinct_characters(self) -> None:
        """A run of one or two characters is refused."""
        assert password_problem("jdoe", "aaaaaaaaaaaa", POLICY) is not None
        assert password_problem("jdoe", "abababababab", POLICY) is not None

    def test_control_characters_and_edge_spaces(self) -> None:
        """Control characters and leading or trailing spaces are refused."""
        assert password_problem("jdoe", "correct\thorse", POLICY) is not None
        assert password_problem("jdoe", " correct horse", POLICY) is not None

    def test_very_long(self) -> None:
        """Passwords beyond 1024 characters are refused."""
        assert password_problem("jdoe", "abcd" * 300, POLICY) is not None


class TestUserName:
    @pytest.mark.parametrize("name", ["jdoe", "j.doe", "a", "op-2", "x_y"])
    def test_accepted(self, name: str) -> None:
        """Lower-case names of letters, digits, '.', '_' and '-' are accepted."""
        assert user_name_problem(name) is None

    @pytest.mark.parametrize("name", ["", "JDoe", "1abc", "a b", "a" * 33, "ü"])
    def test_refused(self, name: str) -> None:
        """Other names are refused with the rule stated."""
        assert "lower-case letters" in (user_name_problem(name) or "")


class TestLockout:
    def test_fewer_failures_than_the_maximum_do_not_lock(self) -> None:
        """Four failures with a maximum of five leave the name unlocked."""
        assert locked_until([T0 + i * S for i in range(4)], POLICY) is None

    def test_the_maximum_locks_for_lockout_s_from_the_last(self) -> None:
        """The fifth failure locks the name for lockout_s from that failure."""
        failures = [T0 + i * S for i in range(5)]
        assert locked_until(failures, POLICY) == T0 + 4 * S + 900 * S

    def test_locked_until_the_end_then_free(self) -> None:
        """The lockout holds until its end and not after (it expires)."""
        failures = [T0 + i * S for i in range(5)]
        end = T0 + 4 * S + 900 * S
        assert is_locked_out(failures, end - 1, POLICY)
        assert not is_locked_out(failures, end, POLICY)

    def test_failures_during_a_lockout_do_not_extend_it(self) -> None:
        """Attempts while locked are not counted (they are refused as locked out)."""
        failures = [T0 + i * S for i in range(5)] + [T0 + 100 * S + i * S for i in range(5)]
        assert locked_until(failures, POLICY) == T0 + 904 * S

    def test_after_expiry_the_count_starts_again(self) -> None:
        """After a lockout ends, a full new run of failures is needed to lock again."""
        first = [T0 + i * S for i in range(5)]
        later = [T0 + 1000 * S + i * S for i in range(4)]
        assert locked_until(first + later, POLICY) == T0 + 904 * S
        assert not is_locked_out(first + later, T0 + 1010 * S, POLICY)
        again = [*first, *later, T0 + 1010 * S]
        assert locked_until(again, POLICY) == T0 + 1910 * S

    def test_policy_values_are_used(self) -> None:
        """max_failed_attempts and lockout_s come from the policy."""
        policy = SecurityPolicy(max_failed_attempts=2, lockout_s=60)
        assert locked_until([T0, T0 + S], policy) == T0 + 61 * S

    def test_only_wrong_names_and_passwords_count(self) -> None:
        """Refusals after a right password do not count toward lockout."""
        assert {r for r in Refusal if r.counts_toward_lockout} == {
            Refusal.UNKNOWN_USER,
            Refusal.WRONG_PASSWORD,
        }


class TestPasswordAgeing:
    def test_expires_after_max_age_days(self) -> None:
        """A password set at T expires max_age_days later, not before."""
        end = T0 + 180 * NS_PER_DAY
        assert password_expires_ns(T0, POLICY) == end
        assert not password_expired(T0, end - 1, POLICY)
        assert password_expired(T0, end, POLICY)

    def test_zero_means_never(self) -> None:
        """password_max_age_days = 0: passwords never expire."""
        policy = SecurityPolicy(password_max_age_days=0)
        assert password_expires_ns(T0, policy) is None
        assert not password_expired(T0, T0 + 10_000 * NS_PER_DAY, policy)


class TestMeanings:
    def test_default_meaning_of_each_act_is_in_the_default_list(self) -> None:
        """Every act's default meaning is one of the default meanings."""
        for act in Act:
            assert choose_meaning(act, None, DEFAULT_MEANINGS) == act.default_meaning

    def test_ack_defaults_to_acknowledged(self) -> None:
        """An acknowledgement means "acknowledged" unless told otherwise."""
        assert choose_meaning(Act.ACK, None, DEFAULT_MEANINGS) == "acknowledged"

    def test_a_listed_meaning_may_be_chosen(self) -> None:
        """--meaning picks any listed meaning."""
        assert choose_meaning(Act.ACK, "reviewed", DEFAULT_MEANINGS) == "reviewed"

    def test_an_unlisted_meaning_is_refused_naming_the_choices(self) -> None:
        """A meaning not in [signatures] meanings is refused with the list."""
        with pytest.raises(EnvmonError, match=r"'agreed' is not in .*'acknowledged'"):
            choose_meaning(Act.ACK, "agreed", DEFAULT_MEANINGS)

    def test_a_default_missing_from_the_list_asks_for_meaning(self) -> None:
        """When a site's list lacks the act's default, --meaning is required."""
        with pytest.raises(EnvmonError, match="choose one with --meaning"):
            choose_meaning(Act.SHELVE, None, ["acknowledged"])


class TestShelveUntil:
    def test_within_the_maximum(self) -> None:
        """A shelving ends its duration after signing."""
        assert shelve_until_ns(T0, 3600, 28_800) == T0 + 3600 * S

    def test_beyond_the_maximum_is_refused(self) -> None:
        """Longer than max_shelve_s is refused, naming the setting."""
        with pytest.raises(EnvmonError, match="max_shelve_s"):
            shelve_until_ns(T0, 28_801, 28_800)

    def test_no_duration_is_refused(self) -> None:
        """A zero or negative duration is refused."""
        with pytest.raises(EnvmonError, match="positive"):
            shelve_until_ns(T0, 0, 28_800)


class TestRefusalMessages:
    def test_unknown_user_and_wrong_password_read_the_same(self) -> None:
        """The line never says which of user name or password was wrong."""
        unknown = refusal_message(Refusal.UNKNOWN_USER, "jdoe")
        wrong = refusal_message(Refusal.WRONG_PASSWORD, "jdoe")
        assert unknown == wrong == "signature refused: user name or password is wrong"

    def test_each_other_refusal_says_which(self) -> None:
        """Locked out, disabled, expired and role each name themselves in one line."""
        lines = [
            refusal_message(Refusal.LOCKED_OUT, "jdoe", locked_until_ns=T0),
            refusal_message(Refusal.DISABLED, "jdoe"),
            refusal_message(Refusal.PASSWORD_EXPIRED, "jdoe", password_set_ns=T0, policy=POLICY),
            refusal_message(Refusal.ROLE, "jdoe", role="operator", act=Act.SHELVE),
        ]
        assert "locked out until 2026-11-18" in lines[0]
        assert "disabled" in lines[1]
        assert "expired" in lines[2] and "envmon user passwd jdoe" in lines[2]
        assert (
            lines[3]
            == "signature refused: user jdoe has role operator, which may not shelve alarms"
        )
        assert all("\n" not in line for line in lines)
