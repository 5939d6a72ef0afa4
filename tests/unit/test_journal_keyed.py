"""A keyed journal: keying on open, every writer needing the key, verification, migration."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from envmon.journal.chain import key_id
from envmon.journal.journal import Journal, JournalError
from envmon.signing.rules import Act
from tests.support.journal_samples import T0, alarm, raised, settings_load
from tests.support.signing import Clock, add_user, attempt, signer
from tests.support.tamper import drop_keying, edit_data, rehash_plain

pytestmark = pytest.mark.usefixtures("cheap")

KEY = b"journal key for the tests, 32+ chars"
OTHER_KEY = b"another journal key, also 32+ chars"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite"


def kinds(journal: Journal) -> list[str]:
    return [e.kind for e in journal.audit_entries()]


def write_some(journal: Journal, n: int = 2) -> None:
    for i in range(n):
        journal.configs.record(settings_load(f"/etc/envmon/{i}.toml"))


class TestKeyedJournal:
    def test_a_new_journal_with_a_key_is_keyed_from_its_first_entry(self, path: Path) -> None:
        """The first entry of a journal created with a key switches the chain to HMAC."""
        with Journal(path, key=KEY) as journal:
            write_some(journal)
            [first, *_] = journal.audit_entries()
            assert (first.seq, first.kind, first.data["key_id"]) == (1, "chain_keyed", key_id(KEY))
            result = journal.verify()
        assert result.ok, result
        assert (result.keyed_from, result.key_id, result.entries) == (1, key_id(KEY), 3)

    def test_every_kind_of_write_round_trips_keyed(self, path: Path) -> None:
        """Alarms, users, signatures and requests all chain and verify under the key."""
        with Journal(path, key=KEY) as journal:
            journal.record_events([raised(alarm("A1"))])
            add_user(journal, "alice", "operator")
            signed = signer(journal, Clock(T0)).sign(attempt("alice", Act.ACK, "A1"))
            assert signed.request_id is not None
            journal.requests.finish(signed.request_id, "ok")
            assert journal.verify().ok

    def test_reading_needs_no_key_but_verifying_does(self, path: Path) -> None:
        """Read-only without the key: queries work; verify says the keyed part is unverified."""
        with Journal(path, key=KEY) as journal:
            write_some(journal)
        with Journal(path, readonly=True) as reader:
            assert len(reader.audit_entries()) == 3
            result = reader.verify()
        assert not result.ok and result.problems == []
        assert "not verified without it" in result.unverified[0]

    def test_a_writer_without_the_key_is_refused(self, path: Path) -> None:
        """Opening a keyed journal for writing without its key fails, naming the setting."""
        Journal(path, key=KEY).close()
        with pytest.raises(JournalError, match=r"keyed .* no journal key: set storage.journal_key"):
            Journal(path)

    def test_a_writer_with_another_key_is_refused(self, path: Path) -> None:
        """Another key is refused at open, naming both key ids."""
        Journal(path, key=KEY).close()
        with pytest.raises(JournalError, match=f"key id {key_id(KEY)}.*{key_id(OTHER_KEY)}"):
            Journal(path, key=OTHER_KEY)

    def test_a_signature_checks_the_user_record_under_the_key(self, path: Path) -> None:
        """The signer's cheap check of a user's entry uses the keyed hash: signing works."""
        with Journal(path, key=KEY) as journal:
            add_user(journal, "alice", "operator")
            journal.record_events([raised(alarm("A1"))])
            signed = signer(journal, Clock(T0)).sign(attempt("alice", Act.ACK, "A1"))
            assert signed.signature.user == "alice"


class TestBecomingKeyed:
    def test_an_unkeyed_journal_is_keyed_from_the_next_seq(self, path: Path) -> None:
        """The first writer with the key appends the switch; earlier entries stay SHA-256."""
        with Journal(path) as journal:
            write_some(journal, 3)
        with Journal(path, key=KEY) as journal:
            write_some(journal, 1)
            assert kinds(journal) == [*["config_load"] * 3, "chain_keyed", "config_load"]
            result = journal.verify()
        assert result.ok and result.keyed_from == 4

    def test_opening_again_with_the_key_does_not_switch_again(self, path: Path) -> None:
        """One switch per journal, however often a writer with the key opens it."""
        for _ in range(3):
            Journal(path, key=KEY).close()
        with Journal(path, key=KEY) as journal:
            assert kinds(journal) == ["chain_keyed"]

    def test_a_schema_2_journal_migrates_and_is_keyed(self, path: Path) -> None:
        """An existing schema 2 journal gains the batch registry and transients, then the
        switch; all verifies."""
        with Journal(path) as journal:
            write_some(journal)
            journal.record_events([raised(alarm("A1"))])
        with sqlite3.connect(path) as db:  # what schema 2 had: no batch registry
            db.execute("DROP TABLE batches")
            db.execute("DROP TABLE transients")
            db.execute("PRAGMA user_version = 2")
        with Journal(path, key=KEY, os_user="upgrader") as journal:
            entries = journal.audit_entries()
            assert [e.kind for e in entries][-3:] == [
                "schema_migrated",
                "schema_migrated",
                "chain_keyed",
            ]
            assert entries[-3].data == {"from": 2, "to": 3, "detail": "batch registry"}
            assert entries[-2].data == {"from": 3, "to": 4, "detail": "transients"}
            assert journal.batches.all() == []
            assert journal.verify().ok
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == 4


class TestRewrittenWithoutTheKey:
    def test_an_edited_entry_rehashed_without_the_key_fails(self, path: Path) -> None:
        """Editing a keyed entry and re-chaining with SHA-256 is caught, and named."""
        with Journal(path, key=KEY) as journal:
            write_some(journal, 3)
        edit_data(path, 3, settings_load("/etc/envmon/other.toml"))
        rehash_plain(path, 3)
        with Journal(path, readonly=True, key=KEY) as journal:
            result = journal.verify()
        assert not result.ok
        assert result.problems == [
            "audit seq 3..4: chained with plain SHA-256 where the journal is keyed: "
            "rewritten without the journal key"
        ]

    def test_a_journal_stripped_of_its_keying_is_not_passed(self, path: Path) -> None:
        """Removing the switch and re-chaining everything with SHA-256 leaves a consistent
        SHA-256 chain, which a verifier holding the key does not pass."""
        with Journal(path) as journal:
            write_some(journal, 2)
        with Journal(path, key=KEY) as journal:
            write_some(journal, 2)
        drop_keying(path)
        with Journal(path, readonly=True) as journal:
            assert journal.verify().ok  # without the key, nothing tells
        with Journal(path, readonly=True, key=KEY) as journal:
            result = journal.verify()
        assert not result.ok
        assert "no entry of this journal is keyed" in result.unverified[0]

    def test_an_untouched_keyed_journal_passes(self, path: Path) -> None:
        """The same journal, left alone, verifies with the key."""
        with Journal(path, key=KEY) as journal:
            write_some(journal, 3)
        with Journal(path, readonly=True, key=KEY) as journal:
            assert journal.verify().ok
