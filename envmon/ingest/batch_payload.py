"""The MES's batch messages on ``<prefix>/<site>/batch`` (design.md section 10). No I/O.

``{"batch": ID, "event": "start"|"end", "rooms": [...], "ts": ..., "product": ...}``:
``rooms`` is required for a start (and ignored for an end), ``ts`` (ISO 8601
or epoch seconds) defaults to the receive time, ``product`` is optional. A
message that does not fit is a reject like any payload (``DecodeError``);
whether the registry accepts it (a new id, a started batch) is the alarm
worker's to decide, with the journal.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Final

from envmon.batches import (
    MAX_PRODUCT_CHARS,
    BatchEvent,
    BatchEventKind,
    batch_id_problem,
)
from envmon.ingest.values import DecodeError, describe, load_object, parse_timestamp
from envmon.readings import NS_PER_S

BAD_BATCH: Final = "bad_batch"
_EVENTS: Final = {k.value: k for k in BatchEventKind}


def decode_batch(payload: bytes, received_ns: int, rooms_known: Collection[str]) -> BatchEvent:
    """One MES message as a ``BatchEvent``; ``DecodeError`` naming the field otherwise."""
    obj = load_object(payload)
    batch = obj.get("batch")
    if not isinstance(batch, str):
        raise DecodeError(BAD_BATCH, f"batch is {describe(batch)}: expected the batch id")
    problem = batch_id_problem(batch)
    if problem is not None:
        raise DecodeError(BAD_BATCH, problem)
    raw_event = obj.get("event")
    kind = _EVENTS.get(raw_event) if isinstance(raw_event, str) else None
    if kind is None:
        raise DecodeError(BAD_BATCH, f"event is {describe(raw_event)}: expected start or end")
    at_ns = received_ns
    if obj.get("ts") is not None:
        at_ns = parse_timestamp(obj["ts"], NS_PER_S, "ts")
    if kind is BatchEventKind.END:
        return BatchEvent(batch=batch, event=kind, at_ns=at_ns)
    rooms = _rooms(obj.get("rooms"), rooms_known)
    product = obj.get("product")
    if product is None:
        product = ""
    if not isinstance(product, str) or len(product) > MAX_PRODUCT_CHARS:
        raise DecodeError(
            BAD_BATCH,
            f"product is {describe(product)}: expected text of at most {MAX_PRODUCT_CHARS} "
            "characters",
        )
    return BatchEvent(batch=batch, event=kind, at_ns=at_ns, rooms=rooms, product=product)


def _rooms(value: Any, rooms_known: Collection[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(r, str) for r in value):
        raise DecodeError(
            BAD_BATCH, f"rooms is {describe(value)}: a start needs a list of room ids"
        )
    unknown = [r for r in value if r not in rooms_known]
    if unknown:
        shown = ", ".join(repr(r[:64]) for r in unknown[:5])
        raise DecodeError("unknown_room", f"rooms {shown} not in the facility file")
    return tuple(dict.fromkeys(value))
