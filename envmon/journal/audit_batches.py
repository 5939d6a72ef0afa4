"""Audit entries of the batch registry, and what each does to the ``batches`` table.

Part of the fold of ``audit.py``. ``batch_started`` creates a batch row,
``batch_ended`` sets its end; ``batch_refused`` (an event the rules refused,
kept for the reviewer: an MES asking to end an unknown batch) changes
nothing. Each entry carries ``by``, the lossless ``BatchBy`` record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from envmon.batches import Batch, BatchBy, BatchEvent
from envmon.journal.audit_types import AuditEntry, DerivedWrite, RowLike, canonical_json

KIND_BATCH_STARTED: Final = "batch_started"
KIND_BATCH_ENDED: Final = "batch_ended"
KIND_BATCH_REFUSED: Final = "batch_refused"
KINDS: Final = frozenset({KIND_BATCH_STARTED, KIND_BATCH_ENDED, KIND_BATCH_REFUSED})

TABLES: Final[Mapping[str, tuple[str, tuple[str, ...]]]] = {
    "batches": (
        "id",
        (
            "id",
            "product",
            "rooms",
            "start_ns",
            "end_ns",
            "started_by",
            "ended_by",
            "start_seq",
            "end_seq",
        ),
    ),
}


def started_data(event: BatchEvent, by: BatchBy) -> dict[str, Any]:
    return {
        "batch": event.batch,
        "product": event.product,
        "rooms": list(event.rooms),
        "start_ns": event.at_ns,
        "by": by.to_record(),
    }


def ended_data(event: BatchEvent, by: BatchBy) -> dict[str, Any]:
    return {"batch": event.batch, "end_ns": event.at_ns, "by": by.to_record()}


def refused_data(event: BatchEvent, by: BatchBy, reason: str) -> dict[str, Any]:
    return {
        "batch": event.batch,
        "event": event.event.value,
        "at_ns": event.at_ns,
        "rooms": list(event.rooms),
        "product": event.product,
        "reason": reason,
        "by": by.to_record(),
    }


def batch_writes(entry: AuditEntry) -> list[DerivedWrite]:
    """The derived-table changes of one batch entry (``KeyError``/``TypeError``
    on a malformed one: only a tampered trail has that)."""
    data = entry.data
    if entry.kind == KIND_BATCH_STARTED:
        columns = {
            "id": data["batch"],
            "product": data["product"],
            "rooms": canonical_json(list(data["rooms"])),
            "start_ns": data["start_ns"],
            "end_ns": None,
            "started_by": canonical_json(data["by"]),
            "ended_by": None,
            "start_seq": entry.seq,
            "end_seq": None,
        }
        return [DerivedWrite("batches", data["batch"], columns, mode="insert")]
    if entry.kind == KIND_BATCH_ENDED:
        columns = {
            "end_ns": data["end_ns"],
            "ended_by": canonical_json(data["by"]),
            "end_seq": entry.seq,
        }
        return [DerivedWrite("batches", data["batch"], columns, mode="update")]
    if entry.kind == KIND_BATCH_REFUSED:
        return []
    raise ValueError(f"unknown entry kind {entry.kind!r}")


def batch_from_row(row: RowLike) -> Batch:
    ended_by = row["ended_by"]
    return Batch(
        id=row["id"],
        product=row["product"],
        rooms=tuple(json.loads(row["rooms"])),
        start_ns=row["start_ns"],
        started_by=BatchBy.from_record(json.loads(row["started_by"])),
        end_ns=row["end_ns"],
        ended_by=BatchBy.from_record(json.loads(ended_by)) if ended_by is not None else None,
    )
