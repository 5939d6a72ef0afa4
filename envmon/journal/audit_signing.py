"""Audit entries of people and signed acts, and what each does to the derived tables.

Part of the fold of ``audit.py``: users (added, password set, disabled),
signatures, refused signature attempts, signed requests and their outcomes
(with, for a sensor's service state, the period they open or close). A user
entry carries the user's whole resulting record, so one entry is enough to
check a user row against the trail (``check_user_row``). No password and no
password hash is ever in an entry: only ``credential_sha256``, the SHA-256 of
the stored hash, against which ``verify_journal`` checks the ``credentials``
table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from envmon.journal.audit_types import AuditEntry, DerivedWrite, RowLike, WriteMode, canonical_json

KIND_USER_ADDED: Final = "user_added"
KIND_USER_PASSWORD: Final = "user_password"
KIND_USER_DISABLED: Final = "user_disabled"
KIND_SIGNATURE: Final = "signature"
KIND_SIGNATURE_REFUSED: Final = "signature_refused"
KIND_SIGN_IN: Final = "sign_in"
"""A user opened a console session with their password (refusals are
``signature_refused`` entries with act ``sign_in``)."""
KIND_REQUEST: Final = "request"
KIND_REQUEST_OUTCOME: Final = "request_outcome"
KIND_SCHEMA_MIGRATED: Final = "schema_migrated"
# Journal schema 1's unsigned acknowledgement queue; folded into ``requests``.
KIND_ACK_REQUEST: Final = "ack_request"
KIND_ACK_OUTCOME: Final = "ack_outcome"

USER_COLUMNS: Final = (
    "name",
    "full_name",
    "role",
    "disabled",
    "disabled_reason",
    "created_ns",
    "password_set_ns",
    "credential_sha256",
    "audit_seq",
)

TABLES: Final[Mapping[str, tuple[str, tuple[str, ...]]]] = {
    "users": ("name", USER_COLUMNS),
    "signatures": (
        "seq",
        (
            "seq",
            "user",
            "full_name",
            "role",
            "meaning",
            "comment",
            "signed_ns",
            "os_user",
            "client",
            "act",
            "subject",
            "record_sha256",
        ),
    ),
    "failed_signatures": (
        "seq",
        ("seq", "user", "attempted_ns", "os_user", "client", "act", "subject", "reason", "counts"),
    ),
    "requests": (
        "id",
        (
            "id",
            "act",
            "subject",
            "params",
            "signature_seq",
            "os_user",
            "requested_ns",
            "outcome",
            "request_seq",
            "outcome_seq",
        ),
    ),
    "sensor_service": (
        "seq",
        (
            "seq",
            "sensor",
            "from_ns",
            "until_ns",
            "signature_seq",
            "request_id",
            "returned_ns",
            "return_signature_seq",
        ),
    ),
}

KINDS: Final = frozenset(
    {
        KIND_USER_ADDED,
        KIND_USER_PASSWORD,
        KIND_USER_DISABLED,
        KIND_SIGNATURE,
        KIND_SIGNATURE_REFUSED,
        KIND_SIGN_IN,
        KIND_REQUEST,
        KIND_REQUEST_OUTCOME,
        KIND_SCHEMA_MIGRATED,
        KIND_ACK_REQUEST,
        KIND_ACK_OUTCOME,
    }
)


def user_data(
    *,
    name: str,
    full_name: str,
    role: str,
    disabled: bool,
    disabled_reason: str,
    created_ns: int,
    password_set_ns: int,
    credential_sha256: str,
) -> dict[str, Any]:
    """The data of every user entry: the user's whole record after it."""
    return {
        "name": name,
        "full_name": full_name,
        "role": role,
        "disabled": disabled,
        "disabled_reason": disabled_reason,
        "created_ns": created_ns,
        "password_set_ns": password_set_ns,
        "credential_sha256": credential_sha256,
    }


def signing_writes(entry: AuditEntry) -> list[DerivedWrite]:
    """The derived-table changes of one entry of these kinds (``KeyError`` or
    ``TypeError`` on a malformed one: only a tampered trail has that)."""
    kind, data = entry.kind, entry.data
    if kind in (KIND_USER_ADDED, KIND_USER_PASSWORD, KIND_USER_DISABLED):
        mode: WriteMode = "insert" if kind == KIND_USER_ADDED else "update"
        return [DerivedWrite("users", data["name"], user_row(entry), mode=mode)]
    if kind == KIND_SIGNATURE:
        columns = {c: data[c] for c in TABLES["signatures"][1] if c not in ("seq", "os_user")}
        columns |= {"seq": entry.seq, "os_user": entry.os_user}
        return [DerivedWrite("signatures", entry.seq, columns, mode="insert")]
    if kind == KIND_SIGNATURE_REFUSED:
        columns = {
            c: data[c] for c in TABLES["failed_signatures"][1] if c not in ("seq", "os_user")
        }
        columns |= {"seq": entry.seq, "os_user": entry.os_user, "counts": int(data["counts"])}
        return [DerivedWrite("failed_signatures", entry.seq, columns, mode="insert")]
    if kind == KIND_REQUEST:
        return [_request_row(entry, data["act"], data["params"], data["signature_seq"])]
    if kind == KIND_ACK_REQUEST:
        params = {"user": data["user"], "comment": data["comment"]}
        return [_request_row(entry, "ack", params, None)]
    if kind in (KIND_REQUEST_OUTCOME, KIND_ACK_OUTCOME):
        writes = [
            DerivedWrite(
                "requests",
                data["id"],
                {"outcome": data["outcome"], "outcome_seq": entry.seq},
                mode="update",
            )
        ]
        return writes + _service_writes(entry)
    if kind in (KIND_SCHEMA_MIGRATED, KIND_SIGN_IN):
        return []
    raise ValueError(f"unknown entry kind {kind!r}")


def user_row(entry: AuditEntry) -> dict[str, Any]:
    """The users row a user entry leaves behind."""
    data = entry.data
    return {
        "name": data["name"],
        "full_name": data["full_name"],
        "role": data["role"],
        "disabled": int(bool(data["disabled"])),
        "disabled_reason": data["disabled_reason"],
        "created_ns": data["created_ns"],
        "password_set_ns": data["password_set_ns"],
        "credential_sha256": data["credential_sha256"],
        "audit_seq": entry.seq,
    }


def _request_row(
    entry: AuditEntry, act: str, params: Mapping[str, Any], signature_seq: int | None
) -> DerivedWrite:
    data = entry.data
    return DerivedWrite(
        "requests",
        data["id"],
        {
            "id": data["id"],
            "act": act,
            "subject": entry.subject,
            "params": canonical_json(params),
            "signature_seq": signature_seq,
            "os_user": entry.os_user,
            "requested_ns": entry.ts_ns,
            "outcome": None,
            "request_seq": entry.seq,
            "outcome_seq": None,
        },
        mode="insert",
    )


def _service_writes(entry: AuditEntry) -> list[DerivedWrite]:
    """An applied out-of-service request opens a period; an in-service one ends it."""
    service = entry.data.get("service")
    if service is None:
        return []
    if service["opens"]:
        return [
            DerivedWrite(
                "sensor_service",
                entry.seq,
                {
                    "seq": entry.seq,
                    "sensor": service["sensor"],
                    "from_ns": entry.ts_ns,
                    "until_ns": service["until_ns"],
                    "signature_seq": service["signature_seq"],
                    "request_id": entry.data["id"],
                    "returned_ns": None,
                    "return_signature_seq": None,
                },
                mode="insert",
            )
        ]
    return [
        DerivedWrite(
            "sensor_service",
            service["period_seq"],
            {"returned_ns": entry.ts_ns, "return_signature_seq": service["signature_seq"]},
            mode="update",
        )
    ]


def check_user_row(row: RowLike, entry: AuditEntry | None) -> bool:
    """Whether a users row is what the entry at its ``audit_seq`` left behind."""
    if entry is None or entry.kind not in (KIND_USER_ADDED, KIND_USER_PASSWORD, KIND_USER_DISABLED):
        return False
    try:
        want = user_row(entry)
    except (KeyError, TypeError):
        return False
    return all(row[c] == want[c] for c in USER_COLUMNS)
