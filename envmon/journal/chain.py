"""How each audit entry is chained to the one before it: SHA-256, or HMAC-SHA256 under a key.

A journal starts unkeyed: ``hash = sha256(prev_hash ‖ canonical JSON of the
content)``. The first writer that holds the journal key (``[storage]
journal_key_file`` or the systemd credential ``storage_journal_key``) appends
a ``chain_keyed`` entry naming the key's id; from that entry on, itself
included, ``hash = HMAC-SHA256(key, prev_hash ‖ canonical JSON)``. Because the
keyed entry's MAC covers the hash before it, rewriting any entry, before or
after the switch, needs the key. Only the first ``chain_keyed`` entry
switches; one key per journal (no rotation). Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from envmon.journal.audit_types import GENESIS_HASH, AuditEntry, canonical_json, entry_hash

KIND_CHAIN_KEYED: Final = "chain_keyed"
ALGORITHM: Final = "HMAC-SHA256"
MIN_KEY_CHARS: Final = 32
"""The key file's text, stripped, must be at least this long (e.g. 32 random
bytes in base64: ``head -c 32 /dev/urandom | base64``)."""
_KEY_ID_MESSAGE: Final = b"envmon journal key id"


def key_id(key: bytes) -> str:
    """A name for ``key`` that says nothing about it: which key keyed a journal."""
    return hmac.new(key, _KEY_ID_MESSAGE, hashlib.sha256).hexdigest()[:16]


def keyed_hash(key: bytes, prev_hash: str, content: Mapping[str, Any]) -> str:
    """HMAC-SHA256 under ``key`` of what ``entry_hash`` hashes."""
    message = (prev_hash + canonical_json(content)).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def keyed_data(key: bytes) -> dict[str, Any]:
    """The data of the ``chain_keyed`` entry."""
    return {
        "key_id": key_id(key),
        "algorithm": ALGORITHM,
        "detail": f"this entry and every later one are chained with {ALGORITHM} "
        "under the journal key",
    }


@dataclass(frozen=True, slots=True)
class ChainMode:
    """Whether a journal is keyed: from which seq on, with which key id."""

    keyed_from: int | None = None
    key_id: str | None = None

    def keyed_at(self, seq: int) -> bool:
        return self.keyed_from is not None and seq >= self.keyed_from


UNKEYED: Final = ChainMode()


def chain_hash(
    seq: int, prev_hash: str, content: Mapping[str, Any], mode: ChainMode, key: bytes | None
) -> str | None:
    """The hash entry ``seq`` must have; None when it is keyed and ``key`` is None."""
    if not mode.keyed_at(seq):
        return entry_hash(prev_hash, content)
    return None if key is None else keyed_hash(key, prev_hash, content)


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """The links of a trail checked: ``problems`` are evidence of tampering,
    ``unverified`` what could not be checked (keyed entries without the key)."""

    problems: list[str]
    unverified: list[str]
    mode: ChainMode
    count: int
    last_seq: int
    last_hash: str


_ALTERED: Final = "hash mismatch: this row was altered, or the row before it was altered or deleted"
_UNKEYED_REHASH: Final = (
    "chained with plain SHA-256 where the journal is keyed: rewritten without the journal key"
)


def check_chain(entries: Sequence[AuditEntry], key: bytes | None) -> ChainCheck:
    """Check every entry's seq and hash link, in seq order, switching to keyed
    hashes at the first ``chain_keyed`` entry; consecutive mismatches of one
    kind are reported as one range."""
    problems: list[str] = []
    runs = _Runs(problems)
    mode = UNKEYED
    wrong_key = False
    prev_hash = GENESIS_HASH
    next_seq = 1
    for entry in entries:
        if entry.seq != next_seq:
            runs.flush()
            problems.append(missing_rows(next_seq, entry.seq - 1))
        if entry.kind == KIND_CHAIN_KEYED:
            if mode.keyed_from is None:
                mode = ChainMode(keyed_from=entry.seq, key_id=str(entry.data.get("key_id")))
                wrong_key = key is not None and key_id(key) != mode.key_id
            else:
                runs.flush()
                problems.append(
                    f"audit seq {entry.seq}: keys the chain a second time "
                    f"(keyed since seq {mode.keyed_from})"
                )
        if not (mode.keyed_at(entry.seq) and (key is None or wrong_key)):
            content = entry.content()
            if chain_hash(entry.seq, prev_hash, content, mode, key) != entry.hash:
                plain = mode.keyed_at(entry.seq) and entry_hash(prev_hash, content) == entry.hash
                runs.add(entry.seq, _UNKEYED_REHASH if plain else _ALTERED)
            else:
                runs.flush()
        prev_hash = entry.hash
        next_seq = entry.seq + 1
    runs.flush()
    last_seq = next_seq - 1
    return ChainCheck(
        problems=problems,
        unverified=_unverified(mode, key, wrong_key, last_seq),
        mode=mode,
        count=len(entries),
        last_seq=last_seq,
        last_hash=prev_hash,
    )


def _unverified(mode: ChainMode, key: bytes | None, wrong_key: bool, last_seq: int) -> list[str]:
    if mode.keyed_from is None:
        if key is None:
            return []
        return [
            f"a journal key is configured (key id {key_id(key)}) but no entry of this journal "
            "is keyed: it was re-hashed without the key, or no envmon holding the key has "
            "written to it yet (the service keys it when it starts)"
        ]
    where = f"audit seq {mode.keyed_from}..{last_seq}"
    if key is None:
        return [
            f"{where}: chained with {ALGORITHM} under the journal key (key id {mode.key_id}): "
            "not verified without it: set storage.journal_key_file (or the systemd "
            "credential storage_journal_key)"
        ]
    if wrong_key:
        return [
            f"{where}: keyed with key id {mode.key_id}, the configured journal key has id "
            f"{key_id(key)}: wrong key, not verified"
        ]
    return []


def missing_rows(first: int, last: int) -> str:
    if first == last:
        return f"audit seq {first}: missing (row deleted)"
    return f"audit seq {first}..{last}: missing (rows deleted)"


class _Runs:
    """Collects consecutive hash mismatches of one kind into one line each."""

    def __init__(self, out: list[str]) -> None:
        self._out = out
        self._run: tuple[int, int, str] | None = None

    def add(self, seq: int, why: str) -> None:
        run = self._run
        if run is not None and run[2] == why and run[1] == seq - 1:
            self._run = (run[0], seq, why)
            return
        self.flush()
        self._run = (seq, seq, why)

    def flush(self) -> None:
        if self._run is None:
            return
        first, last, why = self._run
        where = f"audit seq {first}" if first == last else f"audit seq {first}..{last}"
        self._out.append(f"{where}: {why}")
        self._run = None
