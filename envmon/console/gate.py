"""The console's one contact with the signing path (design.md section 8).

Every act in the console is an electronic signature made by the same signer
as the command line's: the console hands it the user name, the password typed
into the dialog, the meaning and the comment, and shows what came back. The
console decides nothing about passwords or lockout itself; it only hides
controls a role may not use and refuses such a request before asking the
signer, which checks again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Act(StrEnum):
    """What a signed-in user can do in the console."""

    ACK = "ack"
    SHELVE = "shelve"
    UNSHELVE = "unshelve"
    OUT_OF_SERVICE = "out-of-service"
    IN_SERVICE = "in-service"
    ROOM_STATE = "room-state"
    REPORT = "report"
    """Generate a report; not a signature, but only for QA."""


@dataclass(frozen=True, slots=True)
class Identity:
    """A user as the journal knows them now."""

    user: str
    full_name: str
    role: str


@dataclass(frozen=True, slots=True)
class SignInResult:
    """``identity`` when the password was right, else ``refusal``: one line for the page."""

    identity: Identity | None
    refusal: str = ""


@dataclass(frozen=True, slots=True)
class SignRequest:
    """One act to sign: what, on which alarm, sensor or room, and why."""

    act: Act
    target: str
    meaning: str
    comment: str
    duration_s: float | None = None
    """Shelve: for how long."""
    until_ns: int | None = None
    """Out of service: until when (None: until put back in service)."""
    state: str | None = None
    """Room state: ``at_rest`` or ``in_operation``."""


class Outcome(StrEnum):
    """How a signature ended, as the page tells it."""

    APPLIED = "applied"
    """Signed, and the service applied it."""
    PENDING = "pending"
    """Signed and queued; the service has not confirmed it yet."""
    REFUSED = "refused"
    """Signed, but the service refused the act (e.g. the alarm closed meanwhile)."""
    DENIED = "denied"
    """Not signed: wrong password, unknown, disabled or locked-out user, or role."""


@dataclass(frozen=True, slots=True)
class SignResult:
    outcome: Outcome
    message: str


class Gate(Protocol):
    """The signing path as the console uses it."""

    def sign_in(self, user: str, password: str, client: str) -> SignInResult:
        """Check a password; a failure is journaled and counts toward lockout."""
        ...

    def current(self, user: str) -> Identity | None:
        """The user now, or None when unknown, disabled or locked out."""
        ...

    def may(self, role: str, act: Act) -> bool:
        """Whether ``role`` may do ``act`` (the signer checks again when signing)."""
        ...

    def meanings(self, act: Act) -> tuple[str, ...]:
        """The meanings a signature of ``act`` may carry, the default first."""
        ...

    def sign(self, user: str, password: str, request: SignRequest, client: str) -> SignResult:
        """Sign ``request`` as ``user`` with ``password``, and wait briefly for the service."""
        ...
