"""The one signing path: check a signature attempt against the journal and record it.

The command line and the web console both call ``Signer.sign``; the console
passes its client address and the password it has already read. In one
journal write transaction it checks, in this order: lockout of the name
given, the user name and password (an unknown name costs the same time as a
wrong password), that the user's record matches the audit trail, disabled,
password age, and that the role may do the act. A refusal writes one
``signature_refused`` entry (the name given, time, OS user, client, reason;
wrong names and passwords count toward lockout) and nothing else, and raises
``SignatureRefused`` with one line that never says which of name or password
was wrong. A signature writes a ``signature`` entry with the SHA-256 of the
record it signs and, with ``queue=True``, the request the service applies.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from envmon.errors import EnvmonError
from envmon.journal.requests import RequestQueue
from envmon.signing.passwords import verify_nothing, verify_password
from envmon.signing.rules import (
    Act,
    Refusal,
    Role,
    SecurityPolicy,
    choose_meaning,
    locked_until,
    may,
    password_expired,
    refusal_message,
)
from envmon.signing.signature import Signature

if TYPE_CHECKING:
    from envmon.journal.journal import Journal
    from envmon.journal.people import SigningTransaction, UserRecord


@dataclass(frozen=True, slots=True)
class SignatureAttempt:
    """Someone's attempt to sign ``act`` on ``subject`` (an alarm id, sensor or room).

    ``params`` is what else the act needs (``until_ns``, ``state``); it is
    signed with the act. ``client`` is the terminal or the console's remote
    address.
    """

    user: str
    password: str = field(repr=False)
    act: Act
    subject: str
    comment: str
    meaning: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    os_user: str = ""
    client: str = ""


@dataclass(frozen=True, slots=True)
class Signed:
    """A recorded signature, and the request queued with it (None if not queued)."""

    signature: Signature
    signature_seq: int
    request_id: int | None


SIGN_IN = "sign_in"
"""The act a refused sign-in is journaled under."""


class SignatureRefused(EnvmonError):
    """A signature attempt was refused; the message is the one line to show."""

    def __init__(self, refusal: Refusal, message: str) -> None:
        super().__init__(message)
        self.refusal = refusal


@dataclass(frozen=True, slots=True)
class _Refused:
    refusal: Refusal
    message: str


class Signer:
    """Checks signature attempts against ``journal`` under ``policy``."""

    def __init__(
        self,
        journal: Journal,
        policy: SecurityPolicy,
        meanings: Sequence[str],
        *,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._journal = journal
        self._policy = policy
        self._meanings = tuple(meanings)
        self._clock_ns = clock_ns

    def meaning(self, act: Act, given: str | None) -> str:
        """The meaning a signature of ``act`` will carry; ``EnvmonError`` if not allowed.
        (Ask before the password, so that a typo costs no attempt.)"""
        return choose_meaning(act, given, self._meanings)

    def sign(self, attempt: SignatureAttempt, *, queue: bool = True) -> Signed:
        """Check and record one attempt; raises ``SignatureRefused`` (refusal
        journaled) or ``EnvmonError`` for a usage mistake (nothing journaled)."""
        meaning = self.meaning(attempt.act, attempt.meaning)
        if not attempt.user.strip():
            raise EnvmonError(f"{attempt.act.value}: --user must name who signs")
        if not attempt.comment.strip():
            raise EnvmonError(
                f"{attempt.act.value}: --comment must say why (a signature needs a reason)"
            )
        now_ns = self._clock_ns()
        with self._journal.people.signing() as tx:
            checked = self._check(tx, attempt, now_ns)
            if isinstance(checked, _Refused):
                tx.refuse(
                    user=attempt.user,
                    act=attempt.act.value,
                    subject=attempt.subject,
                    reason=checked.refusal.value,
                    counts=checked.refusal.counts_toward_lockout,
                    attempted_ns=now_ns,
                    os_user=attempt.os_user,
                    client=attempt.client,
                )
            else:
                signature = Signature(
                    user=checked.name,
                    full_name=checked.full_name,
                    role=checked.role,
                    meaning=meaning,
                    comment=attempt.comment.strip(),
                    signed_ns=now_ns,
                    os_user=attempt.os_user,
                    client=attempt.client,
                )
                record = tx.record_sha256(attempt.act.value, attempt.subject, attempt.params)
                seq = tx.sign(signature, attempt.act.value, attempt.subject, record)
                request_id = (
                    RequestQueue.queue(
                        tx.append,
                        attempt.act.value,
                        attempt.subject,
                        attempt.params,
                        seq,
                        os_user=attempt.os_user or None,
                    )
                    if queue
                    else None
                )
        # Raised once the refusal is committed: it must stay journaled.
        if isinstance(checked, _Refused):
            raise SignatureRefused(checked.refusal, checked.message)
        return Signed(signature, seq, request_id)

    def sign_in(
        self, user: str, password: str, *, os_user: str = "", client: str = ""
    ) -> UserRecord:
        """Check a password to open a session (the web console's sign-in).

        The same checks as a signature in the same order, but no role (every
        role may sign in). A refusal is journaled like a refused signature, with
        act ``sign_in``, and counts toward lockout the same way; a success is a
        ``sign_in`` entry. Raises ``SignatureRefused``."""
        now_ns = self._clock_ns()
        with self._journal.people.signing() as tx:
            checked = self._check_person(tx, user, password, now_ns)
            if isinstance(checked, _Refused):
                tx.refuse(
                    user=user,
                    act=SIGN_IN,
                    subject=user,
                    reason=checked.refusal.value,
                    counts=checked.refusal.counts_toward_lockout,
                    attempted_ns=now_ns,
                    os_user=os_user,
                    client=client,
                )
            else:
                tx.signed_in(checked.name, now_ns, os_user, client)
        if isinstance(checked, _Refused):
            raise SignatureRefused(checked.refusal, checked.message)
        return checked

    def _check(
        self, tx: SigningTransaction, attempt: SignatureAttempt, now_ns: int
    ) -> UserRecord | _Refused:
        user = self._check_person(tx, attempt.user, attempt.password, now_ns)
        if isinstance(user, _Refused):
            return user
        try:
            role = Role(user.role)
        except ValueError:
            role = None
        if role is None or not may(role, attempt.act):
            return self._refused(Refusal.ROLE, user.name, role=user.role, act=attempt.act)
        return user

    def _check_person(
        self, tx: SigningTransaction, name: str, password: str, now_ns: int
    ) -> UserRecord | _Refused:
        """Lockout, name and password, record integrity, disabled, password age."""
        policy = self._policy
        until = locked_until(tx.locking_failures(name), policy)
        if until is not None and now_ns < until:
            return self._refused(Refusal.LOCKED_OUT, name, locked_until_ns=until)
        user = tx.user(name)
        stored = tx.password_hash(name) if user is not None else None
        if user is None or stored is None:
            verify_nothing(password)
            return self._refused(Refusal.UNKNOWN_USER, name)
        if not verify_password(stored, password):
            return self._refused(Refusal.WRONG_PASSWORD, name)
        if not tx.user_intact(name):
            return self._refused(Refusal.USER_RECORD_ALTERED, name)
        if user.disabled:
            return self._refused(Refusal.DISABLED, name)
        if password_expired(user.password_set_ns, now_ns, policy):
            return self._refused(
                Refusal.PASSWORD_EXPIRED, name, password_set_ns=user.password_set_ns
            )
        return user

    def _refused(self, refusal: Refusal, user: str, **detail: Any) -> _Refused:
        return _Refused(refusal, refusal_message(refusal, user, policy=self._policy, **detail))
