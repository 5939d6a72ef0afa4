"""The chain's links, unkeyed and keyed: hashing, the switch, and what verification reports."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from typing import Any

from envmon.journal.audit_types import GENESIS_HASH, AuditEntry, canonical_json, entry_hash
from envmon.journal.chain import (
    KIND_CHAIN_KEYED,
    UNKEYED,
    ChainMode,
    chain_hash,
    check_chain,
    key_id,
    keyed_data,
    keyed_hash,
)
from tests.support.journal_samples import T0

KEY = b"k" * 32
OTHER_KEY = b"o" * 32


def build(specs: list[tuple[str, dict[str, Any]]], key: bytes | None = KEY) -> list[AuditEntry]:
    """Entries chained as a writer holding ``key`` chains them (keyed from a
    ``chain_keyed`` entry on)."""
    out: list[AuditEntry] = []
    prev = GENESIS_HASH
    mode = UNKEYED
    for seq, (kind, data) in enumerate(specs, start=1):
        if kind == KIND_CHAIN_KEYED and mode.keyed_from is None:
            mode = ChainMode(keyed_from=seq, key_id=data["key_id"])
        unhashed = AuditEntry(seq, T0, kind, "x", data, "envmon", "")
        digest = chain_hash(seq, prev, unhashed.content(), mode, key)
        assert digest is not None
        out.append(replace(unhashed, hash=digest))
        prev = digest
    return out


def note(n: int) -> tuple[str, dict[str, Any]]:
    return ("config_load", {"n": n})


KEYED = ("chain_keyed", keyed_data(KEY))


def rehash_plain(entries: list[AuditEntry], start: int) -> list[AuditEntry]:
    """What someone without the key does after editing: re-chain from ``start`` with SHA-256."""
    out = entries[: start - 1]
    prev = out[-1].hash if out else GENESIS_HASH
    for entry in entries[start - 1 :]:
        fixed = replace(entry, hash=entry_hash(prev, entry.content()))
        out.append(fixed)
        prev = fixed.hash
    return out


class TestKeyedHash:
    def test_keyed_hash_is_hmac_sha256_of_what_entry_hash_hashes(self) -> None:
        """The keyed hash is HMAC-SHA256 under the key of prev hash and canonical content."""
        content = {"seq": 1, "kind": "x"}
        message = (GENESIS_HASH + canonical_json(content)).encode()
        assert (
            keyed_hash(KEY, GENESIS_HASH, content)
            == hmac.new(KEY, message, hashlib.sha256).hexdigest()
        )
        assert keyed_hash(KEY, GENESIS_HASH, content) != entry_hash(GENESIS_HASH, content)

    def test_key_id_names_a_key_without_revealing_it(self) -> None:
        """Two keys have different ids; the id is not the key or its plain hash."""
        assert key_id(KEY) != key_id(OTHER_KEY)
        assert len(key_id(KEY)) == 16
        assert key_id(KEY) not in (KEY.decode(), hashlib.sha256(KEY).hexdigest()[:16])

    def test_chain_hash_is_plain_before_the_switch_and_keyed_from_it(self) -> None:
        """Entries before ``keyed_from`` use SHA-256; from it on HMAC, or None without the key."""
        mode = ChainMode(keyed_from=3, key_id=key_id(KEY))
        content = {"seq": 2}
        assert chain_hash(2, GENESIS_HASH, content, mode, None) == entry_hash(GENESIS_HASH, content)
        assert chain_hash(3, GENESIS_HASH, content, mode, KEY) == keyed_hash(
            KEY, GENESIS_HASH, content
        )
        assert chain_hash(3, GENESIS_HASH, content, mode, None) is None


class TestCheckChain:
    def test_an_unkeyed_chain_verifies_without_a_key(self) -> None:
        """A SHA-256 chain checks out, with nothing unverified."""
        check = check_chain(build([note(1), note(2)], key=None), None)
        assert (check.problems, check.unverified, check.count, check.last_seq) == ([], [], 2, 2)
        assert check.mode == UNKEYED

    def test_a_keyed_chain_verifies_with_its_key(self) -> None:
        """Plain entries, the switch, keyed entries: all verified with the key."""
        entries = build([note(1), KEYED, note(2)])
        check = check_chain(entries, KEY)
        assert check.problems == [] and check.unverified == []
        assert check.mode == ChainMode(keyed_from=2, key_id=key_id(KEY))
        assert check.last_hash == entries[-1].hash

    def test_without_the_key_keyed_entries_are_unverified_not_passed(self) -> None:
        """Without the key the keyed range is reported as not verified, naming the setting."""
        check = check_chain(build([note(1), KEYED, note(2)]), None)
        assert check.problems == []
        [why] = check.unverified
        assert why.startswith("audit seq 2..3: chained with HMAC-SHA256")
        assert "storage.journal_key_file" in why

    def test_a_wrong_key_is_named_as_such(self) -> None:
        """Another key: one line naming both key ids, not a mismatch per entry."""
        check = check_chain(build([KEYED, note(1), note(2)]), OTHER_KEY)
        assert check.problems == []
        [why] = check.unverified
        assert key_id(KEY) in why and key_id(OTHER_KEY) in why and "wrong key" in why

    def test_a_key_but_no_keyed_entry_is_not_verified(self) -> None:
        """A journal that should be keyed but has no keyed entry (re-hashed without
        the key, or never opened by a writer with it) is not passed."""
        check = check_chain(build([note(1), note(2)], key=None), KEY)
        [why] = check.unverified
        assert "no entry of this journal is keyed" in why and "re-hashed without the key" in why

    def test_keyed_entries_rehashed_without_the_key_are_named(self) -> None:
        """Editing after the switch and re-chaining with SHA-256 is caught as such, in one line."""
        entries = build([note(1), KEYED, note(2), note(3), note(4)])
        edited = [*entries[:3], replace(entries[3], data={"n": 99}), *entries[4:]]
        check = check_chain(rehash_plain(edited, 4), KEY)
        assert check.problems == [
            "audit seq 4..5: chained with plain SHA-256 where the journal is keyed: "
            "rewritten without the journal key"
        ]

    def test_rewriting_before_the_switch_breaks_the_keyed_entry(self) -> None:
        """Entries before the switch are protected too: the keyed entry's MAC covers them."""
        entries = build([note(1), note(2), KEYED, note(3)])
        edited = [replace(entries[0], data={"n": 99}), *entries[1:]]
        check = check_chain(rehash_plain(edited, 1)[:2] + entries[2:], KEY)
        assert check.problems == [
            "audit seq 3: hash mismatch: this row was altered, or the row before it was "
            "altered or deleted"
        ]

    def test_a_second_switch_is_a_problem(self) -> None:
        """Only the first chain_keyed entry switches; another one is reported."""
        check = check_chain(build([KEYED, note(1), KEYED]), KEY)
        assert check.problems == ["audit seq 3: keys the chain a second time (keyed since seq 1)"]

    def test_missing_rows_are_named(self) -> None:
        """A gap in seq is reported as deleted rows, besides the broken link."""
        entries = build([note(1), note(2), note(3), note(4)], key=None)
        check = check_chain([entries[0], entries[3]], None)
        assert check.problems[0] == "audit seq 2..3: missing (rows deleted)"
        assert check.problems[1].startswith("audit seq 4: hash mismatch")
