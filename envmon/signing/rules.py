"""The rules of signing, as pure functions of plain values (design.md section 8).

Which role may do which act; what a password must be; when failed attempts
lock a name out and when that ends; when a password is too old; which
meanings a signature may carry; how long an alarm may be shelved. No I/O and
no clock: times are handed in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from envmon.errors import EnvmonError
from envmon.readings import NS_PER_S, isoformat_ns

NS_PER_DAY: Final = 86_400 * NS_PER_S
MAX_PASSWORD_LENGTH: Final = 1024
"""Beyond any passphrase; a bound so that hashing stays cheap for what is typed."""

_USER_NAME: Final = re.compile(r"[a-z][a-z0-9._-]{0,31}")


class Role(StrEnum):
    """What a user is for; each may do the acts ``ROLE_ACTS`` lists."""

    OPERATOR = "operator"
    ENGINEER = "engineer"
    QA = "qa"
    ADMIN = "admin"


class Act(StrEnum):
    """A signed act: the thing a signature makes happen."""

    ACK = "ack"
    SHELVE = "shelve"
    UNSHELVE = "unshelve"
    OUT_OF_SERVICE = "out_of_service"
    IN_SERVICE = "in_service"
    ROOM_STATE = "room_state"
    CALIBRATION = "calibration"
    RELOAD = "reload"
    BATCH = "batch"
    """Start or end a batch."""
    REVIEW = "review"
    """Review-sign an excursion or a batch record."""
    MANAGE_USERS = "manage_users"
    """Through the console; the ``envmon user`` commands rely on file access instead."""

    @property
    def label(self) -> str:
        """What the act is, for a sentence: ``may not <label>``."""
        return _LABELS[self]

    @property
    def default_meaning(self) -> str:
        return _DEFAULT_MEANINGS[self]


_LABELS: Final[dict[Act, str]] = {
    Act.ACK: "acknowledge alarms",
    Act.SHELVE: "shelve alarms",
    Act.UNSHELVE: "unshelve alarms",
    Act.OUT_OF_SERVICE: "take sensors out of service",
    Act.IN_SERVICE: "return sensors to service",
    Act.ROOM_STATE: "set room states",
    Act.CALIBRATION: "record calibrations",
    Act.RELOAD: "reload the configuration",
    Act.BATCH: "start or end batches",
    Act.REVIEW: "review-sign excursions and batches",
    Act.MANAGE_USERS: "manage users",
}

_DEFAULT_MEANINGS: Final[dict[Act, str]] = {
    Act.ACK: "acknowledged",
    Act.SHELVE: "shelved",
    Act.UNSHELVE: "returned to service",
    Act.OUT_OF_SERVICE: "out of service",
    Act.IN_SERVICE: "returned to service",
    Act.ROOM_STATE: "approved",
    Act.CALIBRATION: "approved",
    Act.RELOAD: "approved",
    Act.BATCH: "approved",
    Act.REVIEW: "reviewed",
    Act.MANAGE_USERS: "approved",
}

DEFAULT_MEANINGS: Final = (
    "acknowledged",
    "reviewed",
    "approved",
    "shelved",
    "out of service",
    "returned to service",
)

_OPERATOR: Final = frozenset({Act.ACK})
_ENGINEER: Final = _OPERATOR | {
    Act.SHELVE,
    Act.UNSHELVE,
    Act.OUT_OF_SERVICE,
    Act.IN_SERVICE,
    Act.ROOM_STATE,
    Act.CALIBRATION,
    Act.RELOAD,
    Act.BATCH,
}
# QA reviews and signs batches but does not operate the plant: no shelving or
# service states (segregation of duties). Admin is an engineer who also
# manages users; reviewing stays with QA.
ROLE_ACTS: Final[dict[Role, frozenset[Act]]] = {
    Role.OPERATOR: _OPERATOR,
    Role.ENGINEER: _ENGINEER,
    Role.QA: _OPERATOR | {Act.REVIEW, Act.BATCH},
    Role.ADMIN: _ENGINEER | {Act.MANAGE_USERS},
}


def may(role: Role, act: Act) -> bool:
    """Whether a user of ``role`` may sign ``act``."""
    return act in ROLE_ACTS[role]


@dataclass(frozen=True, slots=True)
class SecurityPolicy:
    """The ``[security]`` settings, as the rules use them."""

    min_password_length: int = 10
    max_failed_attempts: int = 5
    lockout_s: float = 900.0
    password_max_age_days: int = 180
    """0: passwords never expire."""


class Refusal(StrEnum):
    """Why a signature was refused, as the journal records it. The message the
    signer reads never says which of user name or password was wrong."""

    UNKNOWN_USER = "unknown_user"
    WRONG_PASSWORD = "wrong_password"
    LOCKED_OUT = "locked_out"
    DISABLED = "disabled"
    PASSWORD_EXPIRED = "password_expired"
    ROLE = "role"
    USER_RECORD_ALTERED = "user_record_altered"

    @property
    def counts_toward_lockout(self) -> bool:
        """Only attempts that did not prove the password count: lockout stops
        guessing, and the other refusals come after a right password."""
        return self in (Refusal.UNKNOWN_USER, Refusal.WRONG_PASSWORD)


def user_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a user name, or None."""
    if not _USER_NAME.fullmatch(name):
        return (
            f"user name {name!r}: 1 to 32 characters, lower-case letters, digits, '.', '_' "
            "or '-', starting with a letter"
        )
    return None


def password_problem(user: str, password: str, policy: SecurityPolicy) -> str | None:
    """Why ``password`` may not be ``user``'s password, or None."""
    if len(password) < policy.min_password_length:
        return f"a password needs at least {policy.min_password_length} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"a password has at most {MAX_PASSWORD_LENGTH} characters"
    if password != password.strip():
        return "a password may not start or end with a space"
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        return "a password may not contain control characters"
    if user and user.lower() in password.lower():
        return "a password may not contain the user name"
    if len(set(password)) < 4:
        return "a password needs at least 4 different characters"
    return None


def locked_until(failures_ns: Iterable[int], policy: SecurityPolicy) -> int | None:
    """When the lockout caused by these failed attempts ends (None: never locked).

    ``failures_ns``: the times, ascending, of a name's failed attempts that
    count toward lockout since its last successful signature or password
    change. Every ``max_failed_attempts`` of them lock the name for
    ``lockout_s`` from the last; failures while locked are not counted (they
    are refused as locked out), and after the lockout the count starts again.
    The caller compares the result with the time now.
    """
    lockout_ns = round(policy.lockout_s * NS_PER_S)
    count = 0
    until: int | None = None
    for t in failures_ns:
        if until is not None and t < until:
            continue
        count += 1
        if count >= policy.max_failed_attempts:
            until = t + lockout_ns
            count = 0
    return until


def is_locked_out(failures_ns: Sequence[int], now_ns: int, policy: SecurityPolicy) -> bool:
    until = locked_until(failures_ns, policy)
    return until is not None and now_ns < until


def password_expires_ns(set_ns: int, policy: SecurityPolicy) -> int | None:
    """When a password set at ``set_ns`` expires; None when passwords never do."""
    if policy.password_max_age_days <= 0:
        return None
    return set_ns + policy.password_max_age_days * NS_PER_DAY


def password_expired(set_ns: int, now_ns: int, policy: SecurityPolicy) -> bool:
    expires = password_expires_ns(set_ns, policy)
    return expires is not None and now_ns >= expires


def choose_meaning(act: Act, given: str | None, meanings: Sequence[str]) -> str:
    """The meaning a signature of ``act`` carries: ``given``, else the act's
    default; raises ``EnvmonError`` unless it is one of ``meanings``."""
    meaning = act.default_meaning if given is None else given.strip()
    if meaning not in meanings:
        choices = ", ".join(repr(m) for m in meanings)
        if given is None:
            raise EnvmonError(
                f"the default meaning {meaning!r} of this act is not in [signatures] "
                f"meanings: choose one with --meaning ({choices})"
            )
        raise EnvmonError(f"meaning {meaning!r} is not in [signatures] meanings ({choices})")
    return meaning


def shelve_until_ns(signed_ns: int, for_s: float, max_shelve_s: float) -> int:
    """When a shelving signed at ``signed_ns`` for ``for_s`` seconds ends;
    raises ``EnvmonError`` beyond ``[alarms] max_shelve_s`` or for no time."""
    if for_s <= 0:
        raise EnvmonError("shelve: --for must be a positive duration")
    if for_s > max_shelve_s:
        raise EnvmonError(
            f"shelve: --for {for_s:g} s is longer than [alarms] max_shelve_s ({max_shelve_s:g} s)"
        )
    return signed_ns + round(for_s * NS_PER_S)


def refusal_message(
    refusal: Refusal,
    user: str,
    *,
    role: str = "",
    act: Act | None = None,
    locked_until_ns: int | None = None,
    password_set_ns: int | None = None,
    policy: SecurityPolicy | None = None,
) -> str:
    """The one line a refused signer reads."""
    if refusal in (Refusal.UNKNOWN_USER, Refusal.WRONG_PASSWORD):
        return "signature refused: user name or password is wrong"
    if refusal is Refusal.LOCKED_OUT:
        until = "" if locked_until_ns is None else f" until {isoformat_ns(locked_until_ns)}"
        return f"signature refused: user {user} is locked out{until} after failed attempts"
    if refusal is Refusal.DISABLED:
        return f"signature refused: user {user} is disabled"
    if refusal is Refusal.PASSWORD_EXPIRED:
        since = "" if password_set_ns is None else f" (set {isoformat_ns(password_set_ns)}"
        if since and policy is not None:
            since += f", maximum age {policy.password_max_age_days} days"
        since += ")" if since else ""
        return (
            f"signature refused: the password of user {user} has expired{since}; "
            f"set a new one with `envmon user passwd {user}`"
        )
    if refusal is Refusal.ROLE:
        what = act.label if act is not None else "do this"
        return f"signature refused: user {user} has role {role}, which may not {what}"
    return (
        f"signature refused: the record of user {user} does not match the audit trail "
        "(run `envmon audit --verify`)"
    )
