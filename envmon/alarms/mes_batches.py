"""Batch starts and ends, journaled by the alarm worker in order with the readings.

The MES's messages arrive on the readings' queue, so a batch's start is on
record before the readings judged after it; a signed start or end arrives as
a request. The batch registry (``envmon.journal.batches``) holds the rules;
here is only what is journaled when it refuses.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from envmon.batches import BatchBy, BatchEvent, BatchMessage
from envmon.errors import EnvmonError
from envmon.journal.journal import Journal, JournalError

log = logging.getLogger("envmon.alarms")


def record_mes_batch(journal: Journal, message: BatchMessage, rooms: Collection[str]) -> None:
    """An MES batch event: journaled, or its refusal journaled (a redelivery: nothing)."""
    event = message.event
    try:
        recorded = journal.batches.record(event, message.by, rooms_known=rooms)
    except JournalError:
        raise
    except EnvmonError as exc:
        log.warning("batch %s on %s refused: %s", event.event.value, message.topic, exc)
        journal.batches.refuse(event, message.by, str(exc))
        return
    if recorded is not None:
        log.info("batch %s %s (MES, %s)", event.batch, event.event.value, message.topic)


def record_signed_batch(
    journal: Journal, event: BatchEvent, by: BatchBy, rooms: Collection[str], request_id: int
) -> bool:
    """A signed batch event and its request's outcome, in one journal write;
    False when the registry's rules refused it (the refusal is the outcome)."""
    try:
        journal.batches.record(event, by, rooms_known=rooms, finish_request=request_id)
    except JournalError:
        raise
    except EnvmonError as exc:
        journal.requests.finish(request_id, f"refused: {exc}")
        return False
    return True
