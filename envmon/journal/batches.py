"""The batch registry in the journal: ``journal.batches``.

Each start and end is an audit entry (``audit_batches``) folded into the
``batches`` table. The rules (``envmon.batches.event_problem``) are checked
inside the write transaction that records the event, so two writers can
never both start the same batch id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from envmon.batches import Batch, BatchBy, BatchEvent, BatchEventKind, event_problem, is_redelivery
from envmon.errors import EnvmonError
from envmon.journal._db import Appender
from envmon.journal.audit_batches import (
    KIND_BATCH_ENDED,
    KIND_BATCH_REFUSED,
    KIND_BATCH_STARTED,
    batch_from_row,
    ended_data,
    refused_data,
    started_data,
)
from envmon.journal.requests import OUTCOME_OK, finish_in

if TYPE_CHECKING:
    from collections.abc import Collection

    from envmon.journal.journal import Journal


class Batches:
    """The registry of batches: ``journal.batches``."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    def record(
        self,
        event: BatchEvent,
        by: BatchBy,
        *,
        rooms_known: Collection[str] | None = None,
        finish_request: int | None = None,
    ) -> Batch | None:
        """Record a start or end; returns the batch after it, or None for an MES
        message the registry already holds (a redelivery: nothing written).

        Raises ``EnvmonError`` with the rule's one line when the event is
        refused (nothing written). ``finish_request``: the signed request this
        event applies, finished as ``ok`` in the same transaction.
        """
        with self._journal._appending() as append:
            existing = _get(append, event.batch)
            if is_redelivery(event, by, existing):
                return None
            problem = event_problem(event, existing, rooms_known)
            if problem is not None:
                raise EnvmonError(problem)
            if event.event is BatchEventKind.START:
                append(KIND_BATCH_STARTED, event.batch, started_data(event, by))
            else:
                append(KIND_BATCH_ENDED, event.batch, ended_data(event, by))
            if finish_request is not None:
                finish_in(append, finish_request, OUTCOME_OK, self._journal.path)
            after = _get(append, event.batch)
        return after

    def refuse(self, event: BatchEvent, by: BatchBy, reason: str) -> None:
        """Keep a refused MES event in the trail, with why (the reviewer should see it)."""
        with self._journal._appending() as append:
            append(KIND_BATCH_REFUSED, event.batch, refused_data(event, by, reason))

    def get(self, batch_id: str) -> Batch | None:
        rows = self._journal._query("SELECT * FROM batches WHERE id = ?", (batch_id,))
        return batch_from_row(rows[0]) if rows else None

    def all(self) -> list[Batch]:
        """Every batch, by start."""
        rows = self._journal._query("SELECT * FROM batches ORDER BY start_ns, id")
        return [batch_from_row(r) for r in rows]


def _get(append: Appender, batch_id: str) -> Batch | None:
    row = append.conn.execute("SELECT * FROM batches WHERE id = ?", (batch_id,)).fetchone()
    return batch_from_row(row) if row is not None else None
