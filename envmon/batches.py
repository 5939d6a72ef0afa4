"""The batch registry's values and rules (design.md section 10). Pure: no I/O, no clock.

A batch starts (with its rooms and product) and ends, each by a signature
(``envmon batch start|end``) or by a message from the MES on
``<prefix>/<site>/batch``. The rules a QA reviewer expects: a batch id is
unique and never reused; only a started batch can end, once; a batch has at
least one room, each in the facility; it ends after it starts. An MES
message redelivered by the broker is recognised as the same event, not
refused as a second start.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from envmon.errors import EnvmonError
from envmon.readings import isoformat_ns
from envmon.signing.signature import Signature

_BATCH_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/\-]{0,63}")
MAX_PRODUCT_CHARS: Final = 200


class BatchEventKind(StrEnum):
    START = "start"
    END = "end"


class How(StrEnum):
    """How a batch event arrived."""

    SIGNED = "signed"
    MQTT = "mqtt"


@dataclass(frozen=True, slots=True)
class BatchEvent:
    """A batch starting (with ``rooms`` and ``product``) or ending, at ``at_ns``."""

    batch: str
    event: BatchEventKind
    at_ns: int
    rooms: tuple[str, ...] = ()
    product: str = ""


@dataclass(frozen=True, slots=True)
class BatchBy:
    """Who or what started or ended a batch: a signature, or an MES topic."""

    how: How
    signature: Signature | None = None
    signature_seq: int | None = None
    request_id: int | None = None
    topic: str | None = None

    @classmethod
    def signed(cls, signature: Signature, signature_seq: int, request_id: int) -> BatchBy:
        return cls(How.SIGNED, signature, signature_seq, request_id)

    @classmethod
    def mqtt(cls, topic: str) -> BatchBy:
        return cls(How.MQTT, topic=topic)

    def to_record(self) -> dict[str, Any]:
        """Lossless, for the journal."""
        if self.signature is None:
            return {"how": self.how.value, "topic": self.topic}
        return {
            "how": self.how.value,
            "signature": self.signature.to_record(),
            "signature_seq": self.signature_seq,
            "request_id": self.request_id,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> BatchBy:
        signature = record.get("signature")
        return cls(
            how=How(record["how"]),
            signature=Signature.from_record(signature) if signature is not None else None,
            signature_seq=record.get("signature_seq"),
            request_id=record.get("request_id"),
            topic=record.get("topic"),
        )

    def to_json(self) -> dict[str, Any]:
        """For people and reports: the signature (section 8's object) or the topic."""
        if self.signature is None:
            return {"how": self.how.value, "topic": self.topic}
        return {"how": self.how.value, **self.signature.to_json()}

    def describe(self) -> str:
        if self.signature is None:
            return f"MES ({self.topic})"
        return f"{self.signature.user} (signed)"


@dataclass(frozen=True, slots=True)
class Batch:
    """A batch in the registry; ``end_ns`` and ``ended_by`` are None while it runs."""

    id: str
    product: str
    rooms: tuple[str, ...]
    start_ns: int
    started_by: BatchBy
    end_ns: int | None = None
    ended_by: BatchBy | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "product": self.product,
            "rooms": list(self.rooms),
            "start": isoformat_ns(self.start_ns),
            "end": None if self.end_ns is None else isoformat_ns(self.end_ns),
            "started_by": self.started_by.to_json(),
            "ended_by": None if self.ended_by is None else self.ended_by.to_json(),
        }


def batch_id_problem(batch_id: str) -> str | None:
    """Why ``batch_id`` cannot name a batch, or None."""
    if not _BATCH_ID.fullmatch(batch_id):
        return (
            f"batch id {batch_id[:80]!r}: 1 to 64 characters, letters, digits, '_', '.', ':', "
            "'/' or '-', starting with a letter or digit"
        )
    return None


def event_problem(
    event: BatchEvent, existing: Batch | None, rooms_known: Collection[str] | None = None
) -> str | None:
    """Why ``event`` may not be recorded, as one line, or None.

    ``existing`` is the registry's batch of that id; ``rooms_known`` the
    facility's rooms (None: not checked here).
    """
    problem = batch_id_problem(event.batch)
    if problem is not None:
        return problem
    if event.event is BatchEventKind.START:
        if existing is not None:
            return (
                f"batch {event.batch} exists already (started {isoformat_ns(existing.start_ns)} "
                f"by {existing.started_by.describe()}): batch ids are never reused"
            )
        if not event.rooms:
            return f"batch {event.batch}: a batch needs at least one room"
        if len(event.product) > MAX_PRODUCT_CHARS:
            return f"batch {event.batch}: product is longer than {MAX_PRODUCT_CHARS} characters"
        if rooms_known is not None:
            unknown = [r for r in event.rooms if r not in rooms_known]
            if unknown:
                return (
                    f"batch {event.batch}: {', '.join(unknown)} "
                    f"{'is not a room' if len(unknown) == 1 else 'are not rooms'} of the facility"
                )
        return None
    if existing is None:
        return f"no batch {event.batch} (see `envmon batches`)"
    if existing.end_ns is not None:
        return f"batch {event.batch} ended already at {isoformat_ns(existing.end_ns)}"
    if event.at_ns <= existing.start_ns:
        return (
            f"batch {event.batch}: the end {isoformat_ns(event.at_ns)} is not after its start "
            f"{isoformat_ns(existing.start_ns)}"
        )
    return None


def is_redelivery(event: BatchEvent, by: BatchBy, existing: Batch | None) -> bool:
    """Whether an MES event is one the registry already holds (the broker sent it again)."""
    if existing is None or by.how is not How.MQTT:
        return False
    if event.event is BatchEventKind.START:
        return (
            existing.started_by == by
            and existing.start_ns == event.at_ns
            and existing.rooms == event.rooms
            and existing.product == event.product
        )
    return existing.ended_by == by and existing.end_ns == event.at_ns


def event_params(event: BatchEvent) -> dict[str, Any]:
    """The params of a signed batch request (what the signature covers)."""
    params: dict[str, Any] = {"event": event.event.value, "at_ns": event.at_ns}
    if event.event is BatchEventKind.START:
        params |= {"rooms": list(event.rooms), "product": event.product}
    return params


def event_from_params(batch: str, params: Mapping[str, Any]) -> BatchEvent:
    """The event a signed batch request asks for; ``EnvmonError`` if malformed."""
    try:
        kind = BatchEventKind(params["event"])
        at_ns = int(params["at_ns"])
        rooms = tuple(str(r) for r in params.get("rooms", ()))
        product = str(params.get("product", ""))
    except (KeyError, TypeError, ValueError):
        raise EnvmonError(f"refused: malformed batch request for {batch!r}") from None
    return BatchEvent(batch=batch, event=kind, at_ns=at_ns, rooms=rooms, product=product)


@dataclass(frozen=True, slots=True)
class BatchMessage:
    """A batch event from the MES, as ingest decoded it from ``topic``."""

    event: BatchEvent
    topic: str

    @property
    def by(self) -> BatchBy:
        return BatchBy.mqtt(self.topic)
