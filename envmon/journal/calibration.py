"""Calibration in the journal: signed records, and the reminders sent.

A calibration record is a signed request like any other act (``envmon
calibration record``; ``requests.py``): the ``signature`` entry covers the
act, the sensor and the params ``{due, certificate}``, the ``request`` entry
carries them, and the service's ``request_outcome`` entry says it applied
them. So a record is a row of ``requests`` (act ``calibration``, outcome
``ok``) joined with its row of ``signatures``, both derived tables that
``envmon audit --verify`` checks against the trail; nothing else is stored.
It is in force from when it was signed (``envmon.calibration.state``).

Each reminder the service sends is a ``calibration_reminder`` entry (sensor,
due date, days before, ...); ``reminders_sent`` gives their ids back at start.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from envmon.calibration.records import from_params
from envmon.calibration.reminders import Reminder, reminder_id
from envmon.calibration.state import CalibrationRecord
from envmon.errors import EnvmonError
from envmon.journal._db import JournalError
from envmon.journal.audit import KIND_CALIBRATION_REMINDER
from envmon.journal.requests import OUTCOME_OK

if TYPE_CHECKING:
    from envmon.journal.journal import Journal

ACT_CALIBRATION: Final = "calibration"

_SIGNED = (
    'SELECT r.id, r.subject, r.params, s.signed_ns, s."user", s.full_name '
    "FROM requests r JOIN signatures s ON s.seq = r.signature_seq "
    "WHERE r.act = ? AND {outcome} ORDER BY s.signed_ns, r.id"
)


@dataclass(frozen=True, slots=True)
class SignedCalibration:
    """A calibration record with its request and signer, as the journal holds it."""

    record: CalibrationRecord
    request_id: int
    full_name: str


class CalibrationLog:
    """The journal's calibration records and reminders: ``journal.calibration``."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    def records(self) -> list[CalibrationRecord]:
        """Every record the service applied, by signing time."""
        return [s.record for s in self.signed()]

    def signed(self, *, pending: bool = False) -> list[SignedCalibration]:
        """The records applied (or, with ``pending``, signed and not yet applied)."""
        outcome = "r.outcome IS NULL" if pending else "r.outcome = ?"
        params: list[Any] = [ACT_CALIBRATION] + ([] if pending else [OUTCOME_OK])
        rows = self._journal._query(_SIGNED.format(outcome=outcome), params)
        out = []
        for row in rows:
            try:
                record = from_params(
                    row["subject"], json.loads(row["params"]), row["signed_ns"], row["user"]
                )
            except (EnvmonError, ValueError) as exc:
                raise JournalError(
                    f"{self._journal.path}: calibration request {row['id']}: {exc} "
                    "(run `envmon audit --verify`)"
                ) from None
            out.append(SignedCalibration(record, row["id"], row["full_name"]))
        return out

    def record_reminders(self, reminders: Sequence[Reminder], sent_ns: int) -> None:
        """The reminders about to be sent, one entry each, in one transaction."""
        if not reminders:
            return
        with self._journal._appending() as append:
            for r in reminders:
                append(KIND_CALIBRATION_REMINDER, r.sensor, _reminder_data(r, sent_ns))

    def reminders_sent(self) -> set[str]:
        """The ids of every reminder journaled (``CalibrationReminders.already``)."""
        rows = self._journal._query(
            "SELECT data FROM audit WHERE kind = ?", (KIND_CALIBRATION_REMINDER,)
        )
        sent = set()
        for row in rows:
            try:
                data = json.loads(row["data"])
                sent.add(
                    reminder_id(
                        str(data["sensor"]), date.fromisoformat(data["due"]), data["days_before"]
                    )
                )
            except (KeyError, TypeError, ValueError):
                continue  # only a hand-edited row; `envmon audit --verify` names it
        return sent


def _reminder_data(reminder: Reminder, sent_ns: int) -> dict[str, Any]:
    return {
        "id": reminder.id,
        "sensor": reminder.sensor,
        "room": reminder.room,
        "equipment": reminder.equipment,
        "due": reminder.due.isoformat(),
        "certificate": reminder.certificate,
        "days_before": reminder.days_before,
        "days_left": reminder.days_left,
        "sent_ns": sent_ns,
    }


def read_records(path: Path) -> list[CalibrationRecord]:
    """The applied records of the journal at ``path`` (read-only); none without a journal."""
    if not path.exists():
        return []
    from envmon.journal.journal import Journal

    journal = Journal(path, readonly=True)
    try:
        return journal.calibration.records()
    finally:
        journal.close()
