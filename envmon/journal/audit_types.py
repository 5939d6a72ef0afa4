"""The audit trail's value types, canonical JSON and entry hashing (no I/O)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

GENESIS_HASH: Final = "0" * 64


class RowLike(Protocol):
    """A row read by column name: a ``sqlite3.Row`` or a dict."""

    def __getitem__(self, key: str, /) -> Any: ...


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the audit trail; ``data`` is the entry's JSON content."""

    seq: int
    ts_ns: int
    kind: str
    subject: str
    data: dict[str, Any]
    os_user: str
    hash: str

    def content(self) -> dict[str, Any]:
        """What the hash covers: every column but the hash itself."""
        return {
            "seq": self.seq,
            "ts_ns": self.ts_ns,
            "kind": self.kind,
            "subject": self.subject,
            "data": self.data,
            "os_user": self.os_user,
        }


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """``ok`` when the chain and every derived row check out; ``problems`` name rows."""

    ok: bool
    entries: int
    problems: list[str] = field(default_factory=list)


WriteMode = Literal["upsert", "insert", "update"]


@dataclass(frozen=True, slots=True)
class DerivedWrite:
    """Set ``columns`` on the row of ``table`` whose key is ``key``.

    ``insert``: the row must not exist yet; ``update``: it must exist (only
    the named columns change); ``upsert``: either (all columns named).
    """

    table: str
    key: int | str
    columns: Mapping[str, Any]
    mode: WriteMode = "upsert"


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, content: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(content)).encode("utf-8")).hexdigest()
