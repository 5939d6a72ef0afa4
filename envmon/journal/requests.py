"""Signed requests: how a signed act reaches the running service.

A command (or the console) signs an act and, in the same transaction, queues
a request carrying that signature (``queue``). The service polls ``pending``,
applies each request and records ``finish`` with ``OUTCOME_OK`` or the
reason it refused; the signer waits on ``outcome``. An applied
out-of-service request opens a sensor's service period and an applied
in-service request ends it, both in the outcome's entry; ``service_periods``
and ``service_states`` read them back for the service and for reports.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from envmon.journal._db import Appender, JournalError
from envmon.journal.audit_signing import KIND_REQUEST, KIND_REQUEST_OUTCOME
from envmon.journal.audit_types import RowLike
from envmon.sensor_service import ServicePeriod, ServiceStates
from envmon.signing.signature import Signature

if TYPE_CHECKING:
    from envmon.journal.journal import Journal

OUTCOME_OK: Final = "ok"
ACT_OUT_OF_SERVICE: Final = "out_of_service"
ACT_IN_SERVICE: Final = "in_service"


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A signed act waiting for the service to apply it.

    ``act`` is an ``envmon.signing.rules.Act`` value; ``subject`` the alarm id,
    sensor or room; ``params`` what else the act needs (``until_ns`` for
    shelve and out-of-service, ``state`` for room-state).
    """

    id: int
    act: str
    subject: str
    signature: Signature
    signature_seq: int
    os_user: str
    requested_ns: int
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def until_ns(self) -> int | None:
        value = self.params.get("until_ns")
        return int(value) if value is not None else None

    @property
    def state(self) -> str | None:
        value = self.params.get("state")
        return str(value) if value is not None else None


class RequestQueue:
    """The journal's queue of signed requests: ``journal.requests``."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    @staticmethod
    def queue(
        append: Appender,
        act: str,
        subject: str,
        params: Mapping[str, Any],
        signature_seq: int,
        os_user: str | None = None,
    ) -> int:
        """Queue a request inside the signing transaction (under the signer's
        ``os_user``); returns its id."""
        row = append.conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM requests").fetchone()
        request_id = int(row[0])
        data = {
            "id": request_id,
            "act": act,
            "subject": subject,
            "params": dict(params),
            "signature_seq": signature_seq,
        }
        append(KIND_REQUEST, subject, data, os_user=os_user)
        return request_id

    def pending(self, acts: Sequence[str] | None = None) -> list[SignedRequest]:
        """Requests not yet finished, oldest first (only ``acts``, if given)."""
        sql = (
            "SELECT r.id, r.act, r.subject, r.params, r.signature_seq, r.requested_ns, "
            "r.os_user AS request_os_user, s.* "
            "FROM requests r JOIN signatures s ON s.seq = r.signature_seq "
            "WHERE r.outcome IS NULL"
        )
        params: list[Any] = []
        if acts is not None:
            sql += f" AND r.act IN ({','.join('?' * len(acts))})"
            params.extend(acts)
        rows = self._journal._query(sql + " ORDER BY r.id", params)
        return [
            SignedRequest(
                id=r["id"],
                act=r["act"],
                subject=r["subject"],
                signature=_signature(r),
                signature_seq=r["signature_seq"],
                os_user=r["request_os_user"],
                requested_ns=r["requested_ns"],
                params=json.loads(r["params"]),
            )
            for r in rows
        ]

    def finish(self, request_id: int, outcome: str) -> None:
        """Record how a request ended: ``OUTCOME_OK`` or why it was refused.

        An applied out-of-service request opens the sensor's service period
        from now; an applied in-service request closes the open one.
        """
        with self._journal._appending() as append:
            row = append.conn.execute(
                "SELECT act, subject, params, signature_seq, outcome FROM requests WHERE id = ?",
                (request_id,),
            ).fetchone()
            if row is None:
                raise JournalError(f"{self._journal.path}: no request {request_id}")
            if row["outcome"] is not None:
                raise JournalError(
                    f"{self._journal.path}: request {request_id} is already finished"
                )
            data: dict[str, Any] = {"id": request_id, "outcome": outcome}
            if outcome == OUTCOME_OK and row["act"] == ACT_OUT_OF_SERVICE:
                params = json.loads(row["params"])
                data["service"] = {
                    "opens": True,
                    "sensor": row["subject"],
                    "until_ns": params.get("until_ns"),
                    "signature_seq": row["signature_seq"],
                }
            elif outcome == OUTCOME_OK and row["act"] == ACT_IN_SERVICE:
                period = _open_period(append, row["subject"])
                if period is None:
                    data["outcome"] = f"refused: sensor {row['subject']} is in service"
                else:
                    data["service"] = {
                        "opens": False,
                        "period_seq": period,
                        "signature_seq": row["signature_seq"],
                    }
            append(KIND_REQUEST_OUTCOME, row["subject"], data)

    def outcome(self, request_id: int) -> str | None:
        """``None`` while pending (or unknown), else ``OUTCOME_OK`` or the refusal."""
        rows = self._journal._query("SELECT outcome FROM requests WHERE id = ?", (request_id,))
        return rows[0]["outcome"] if rows else None

    def service_periods(
        self,
        from_ns: int | None = None,
        to_ns: int | None = None,
        sensors: Sequence[str] | None = None,
    ) -> list[ServicePeriod]:
        """Out-of-service periods overlapping ``[from_ns, to_ns)`` (all when None),
        by start. ``ServiceStates(periods).out_of_service_s`` sums them."""
        sql = (
            'SELECT p.*, s.*, r."user" AS r_user, r.full_name AS r_full_name, r.role AS r_role, '
            "r.meaning AS r_meaning, r.comment AS r_comment, r.signed_ns AS r_signed_ns, "
            "r.os_user AS r_os_user, r.client AS r_client "
            "FROM sensor_service p JOIN signatures s ON s.seq = p.signature_seq "
            "LEFT JOIN signatures r ON r.seq = p.return_signature_seq WHERE 1 = 1"
        )
        params: list[Any] = []
        if to_ns is not None:
            sql += " AND p.from_ns < ?"
            params.append(to_ns)
        if sensors is not None:
            sql += f" AND p.sensor IN ({','.join('?' * len(sensors))})"
            params.extend(sensors)
        periods = [_period(r) for r in self._journal._query(sql + " ORDER BY p.from_ns", params)]
        if from_ns is None:
            return periods
        return [p for p in periods if p.end_ns is None or p.end_ns > from_ns]

    def service_states(self) -> ServiceStates:
        """Every sensor's periods, for the service (ingest stamping, comm loss)."""
        return ServiceStates(self.service_periods())


def _open_period(append: Appender, sensor: str) -> int | None:
    row = append.conn.execute(
        "SELECT seq FROM sensor_service WHERE sensor = ? AND returned_ns IS NULL "
        "AND (until_ns IS NULL OR until_ns > ?) ORDER BY from_ns DESC LIMIT 1",
        (sensor, append.ts_ns),
    ).fetchone()
    return int(row[0]) if row else None


def _signature(row: RowLike, prefix: str = "") -> Signature:
    return Signature(
        user=row[f"{prefix}user"],
        full_name=row[f"{prefix}full_name"],
        role=row[f"{prefix}role"],
        meaning=row[f"{prefix}meaning"],
        comment=row[f"{prefix}comment"],
        signed_ns=row[f"{prefix}signed_ns"],
        os_user=row[f"{prefix}os_user"],
        client=row[f"{prefix}client"],
    )


def _period(row: RowLike) -> ServicePeriod:
    return ServicePeriod(
        sensor=row["sensor"],
        from_ns=row["from_ns"],
        until_ns=row["until_ns"],
        signature=_signature(row),
        returned_ns=row["returned_ns"],
        return_signature=_signature(row, "r_") if row["r_user"] is not None else None,
    )
