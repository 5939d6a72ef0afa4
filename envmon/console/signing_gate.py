"""The console's gate onto the signing path (``envmon.signing``), the command line's own.

Sign-in and every act go through ``Signer``: the same checks, in the same
order, journaled the same way (a refused sign-in counts toward lockout like a
refused signature). An act is signed and queued in one journal transaction;
the running service applies it, and the gate waits a few seconds for that to
tell the person the result, as ``envmon ack`` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from envmon.console.gate import Act, Identity, Outcome, SignInResult, SignRequest, SignResult
from envmon.errors import EnvmonError
from envmon.journal.journal import Journal, current_os_user
from envmon.journal.requests import OUTCOME_OK
from envmon.readings import isoformat_ns
from envmon.settings import Settings
from envmon.signing import rules
from envmon.signing.signer import SignatureAttempt, SignatureRefused, Signer

_ACTS: Final = {
    Act.ACK: rules.Act.ACK,
    Act.SHELVE: rules.Act.SHELVE,
    Act.UNSHELVE: rules.Act.UNSHELVE,
    Act.OUT_OF_SERVICE: rules.Act.OUT_OF_SERVICE,
    Act.IN_SERVICE: rules.Act.IN_SERVICE,
    Act.ROOM_STATE: rules.Act.ROOM_STATE,
}
REPORT_ROLES: Final = frozenset({rules.Role.QA.value})
"""Reports are QA's (design.md section 9)."""
WAIT_S: Final = 5.0
POLL_S: Final = 0.1


def _done(request: SignRequest) -> str:
    what = {
        Act.ACK: f"Alarm {request.target} acknowledged",
        Act.SHELVE: f"Alarm {request.target} shelved",
        Act.UNSHELVE: f"Alarm {request.target} unshelved",
        Act.OUT_OF_SERVICE: f"Sensor {request.target} taken out of service",
        Act.IN_SERVICE: f"Sensor {request.target} returned to service",
        Act.ROOM_STATE: f"Room {request.target} set to {request.state}",
    }
    return what.get(request.act, f"{request.act.value} {request.target}")


class SigningGate:
    """The signing path over the journal of ``settings``, opened for writing:
    the console writes signatures and sign-in records, nothing else."""

    def __init__(
        self,
        settings: Settings,
        *,
        wait_s: float = WAIT_S,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._journal = Journal(settings.storage.journal_path)
        self._policy = settings.security.policy()
        self._meanings = tuple(settings.signatures.meanings)
        self._signer = Signer(self._journal, self._policy, self._meanings, clock_ns=clock_ns)
        self._max_shelve_s = settings.alarms.max_shelve_s
        self._wait_s = wait_s
        self._clock_ns = clock_ns
        self._os_user = current_os_user()

    def close(self) -> None:
        self._journal.close()

    def sign_in(self, user: str, password: str, client: str) -> SignInResult:
        try:
            record = self._signer.sign_in(user, password, os_user=self._os_user, client=client)
        except SignatureRefused as exc:
            return SignInResult(None, str(exc).replace("signature refused", "sign-in refused", 1))
        return SignInResult(Identity(record.name, record.full_name, record.role))

    def current(self, user: str) -> Identity | None:
        record = self._journal.people.get(user)
        if record is None or record.disabled:
            return None
        failures = self._journal.people.locking_failures(user)
        if rules.is_locked_out(failures, self._clock_ns(), self._policy):
            return None
        return Identity(record.name, record.full_name, record.role)

    def may(self, role: str, act: Act) -> bool:
        if act is Act.REPORT:
            return role in REPORT_ROLES
        try:
            return rules.may(rules.Role(role), _ACTS[act])
        except (ValueError, KeyError):
            return False

    def meanings(self, act: Act) -> tuple[str, ...]:
        signing_act = _ACTS.get(act)
        default = signing_act.default_meaning if signing_act is not None else ""
        if default in self._meanings:
            return (default, *(m for m in self._meanings if m != default))
        return self._meanings

    def sign(self, user: str, password: str, request: SignRequest, client: str) -> SignResult:
        act = _ACTS.get(request.act)
        if act is None:
            return SignResult(Outcome.DENIED, f"{request.act.value} is not a signed act")
        try:
            attempt = SignatureAttempt(
                user=user,
                password=password,
                act=act,
                subject=request.target,
                comment=request.comment,
                meaning=request.meaning,
                params=self._params(request),
                os_user=self._os_user,
                client=client,
            )
            signed = self._signer.sign(attempt)
        except EnvmonError as exc:
            # A refused signature (journaled) or a usage mistake (nothing written).
            return SignResult(Outcome.DENIED, str(exc))
        assert signed.request_id is not None
        sig = signed.signature
        by = (
            f"signed by {sig.full_name} ({sig.user}, {sig.role}) at "
            f"{isoformat_ns(sig.signed_ns)}, meaning {sig.meaning!r}"
        )
        outcome = self._wait(signed.request_id)
        if outcome == OUTCOME_OK:
            return SignResult(Outcome.APPLIED, f"{_done(request)}: {by}.")
        if outcome is None:
            return SignResult(
                Outcome.PENDING,
                f"Signed ({by}) and queued as request {signed.request_id}, but the service has "
                f"not confirmed it within {self._wait_s:g} s (is envmon running?); it is "
                "applied when the service next runs.",
            )
        return SignResult(Outcome.REFUSED, f"Signed ({by}), but the service refused: {outcome}.")

    def _params(self, request: SignRequest) -> Mapping[str, Any]:
        if request.act is Act.SHELVE:
            assert request.duration_s is not None
            until = rules.shelve_until_ns(self._clock_ns(), request.duration_s, self._max_shelve_s)
            return {"until_ns": until}
        if request.act is Act.OUT_OF_SERVICE:
            return {"until_ns": request.until_ns}
        if request.act is Act.ROOM_STATE:
            return {"state": request.state}
        return {}

    def _wait(self, request_id: int) -> str | None:
        deadline = time.monotonic() + self._wait_s
        while True:
            outcome = self._journal.requests.outcome(request_id)
            if outcome is not None or time.monotonic() >= deadline:
                return outcome
            time.sleep(POLL_S)
