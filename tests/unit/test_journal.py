"""The SQLite alarm journal: every API round trip, tamper detection, file mode, processes."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envmon.alarms.events import AlarmEvent, AlarmState, Level, Transition
from envmon.journal.journal import Journal, JournalError
from envmon.readings import RoomState, RoomStateChange
from envmon.signing.rules import Act
from tests.support.journal_samples import (
    T0,
    S,
    acked,
    alarm,
    cleared,
    excursion,
    raised,
    settings_load,
)
from tests.support.signing import (
    Clock,
    add_user,
    attempt,
    signer,
)

pytestmark = pytest.mark.usefixtures("cheap")

WALL_NS = T0 + 3600 * S


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "journal.sqlite"


@pytest.fixture
def journal(path: Path) -> Iterator[Journal]:
    j = Journal(path, clock_ns=lambda: WALL_NS, os_user="envmon")
    yield j
    j.close()


def change(room: str, state: RoomState, ts_ns: int) -> RoomStateChange:
    return RoomStateChange(ts_ns=ts_ns, site="site1", room=room, state=state)


def sign_ack(journal: Journal, alarm_id: str = "A1", user: str = "alice") -> int:
    """A signed acknowledgement request (by ``user``, OS user alice_os); its id."""
    signed = signer(journal, Clock(WALL_NS)).sign(
        attempt(user, Act.ACK, alarm_id, comment="door left open")
    )
    assert signed.request_id is not None
    return signed.request_id


def fill(journal: Journal) -> None:
    """One of everything, so that every table has rows."""
    a1 = alarm("A1")
    a2 = alarm("A2", room="BG-B", parameter="diff_pressure", level=Level.ALERT, limit=10.0)
    journal.configs.record(settings_load())
    journal.record_room_state(change("FILL-A", RoomState.IN_OPERATION, T0 - 60 * S))
    journal.record_events([raised(a1), raised(a2)])
    journal.record_events([cleared(a1, T0 + 120 * S)])
    add_user(journal, "alice", "operator")
    request = sign_ack(journal)
    journal.record_events([acked(cleared(a1, T0 + 120 * S).alarm, T0 + 200 * S)])
    journal.requests.finish(request, "ok")


class TestJournalAlarms:
    def test_raised_alarm_is_open_and_readable(self, journal: Journal) -> None:
        """A recorded RAISED event makes the alarm open and retrievable unchanged."""
        a = alarm("A1")
        journal.record_events([raised(a)])
        assert journal.open_alarms() == [a]
        assert journal.get_alarm("A1") == a
        assert journal.get_alarm("nope") is None

    def test_later_event_replaces_the_alarm_state(self, journal: Journal) -> None:
        """The alarm row follows the latest transition recorded."""
        a = alarm("A1")
        journal.record_events([raised(a), cleared(a, T0 + 60 * S)])
        got = journal.get_alarm("A1")
        assert got is not None
        assert got.state is AlarmState.CLEARED_UNACKED
        assert got.cleared_ns == T0 + 60 * S

    def test_closed_alarm_is_listed_only_with_include_closed(self, journal: Journal) -> None:
        """A closed alarm leaves open_alarms but stays in alarms(include_closed=True)."""
        a = alarm("A1")
        c = cleared(a, T0 + 60 * S)
        journal.record_events([raised(a), c, acked(c.alarm, T0 + 90 * S)])
        journal.record_events([raised(alarm("A2", raised_ns=T0 + 10 * S))])
        assert [x.id for x in journal.open_alarms()] == ["A2"]
        assert [x.id for x in journal.alarms()] == ["A2"]
        everything = journal.alarms(include_closed=True)
        assert [x.id for x in everything] == ["A1", "A2"]
        assert everything[0].state is AlarmState.CLOSED

    def test_events_are_recorded_atomically(self, journal: Journal) -> None:
        """A batch with a malformed event records none of its events."""
        broken = AlarmEvent(Transition.RAISED, alarm("B").with_(peak=object()), T0)
        with pytest.raises(TypeError):
            journal.record_events([raised(alarm("A1")), broken])
        assert journal.alarms(include_closed=True) == []
        assert journal.audit_entries() == []

    def test_escalation_does_not_overwrite_a_newer_alarm_state(self, journal: Journal) -> None:
        """An ESCALATED event carrying a stale alarm copy leaves the alarm row as it was."""
        a = alarm("A1")
        ack = acked(a, T0 + 30 * S)
        journal.record_events([raised(a), ack])
        journal.record_events([AlarmEvent(Transition.ESCALATED, a, T0 + 900 * S)])
        assert journal.get_alarm("A1") == ack.alarm
        assert journal.escalated_alarm_ids() == {"A1"}
        assert journal.verify().ok

    def test_state_survives_reopening(self, path: Path) -> None:
        """Open alarms and excursions come back from the file after a restart."""
        a = alarm("A1")
        first = Journal(path)
        first.record_events([raised(a)])
        first.close()
        again = Journal(path)
        assert again.open_alarms() == [a]
        assert again.open_excursions() == [excursion(a)]
        again.close()


class TestJournalSync:
    """``record_events(synced=False)`` commits without waiting for the disk; ``sync``
    puts it there."""

    @pytest.fixture
    def syncs(self, monkeypatch: pytest.MonkeyPatch) -> list[int]:
        calls: list[int] = []
        real = os.fdatasync

        def fdatasync(fd: int) -> None:
            calls.append(os.fstat(fd).st_ino)
            real(fd)

        monkeypatch.setattr(os, "fdatasync", fdatasync)
        return calls

    @staticmethod
    def synchronous(journal: Journal) -> int:
        return int(journal._conn.execute("PRAGMA synchronous").fetchone()[0])

    def test_sync_puts_the_log_on_disk_once(
        self, journal: Journal, path: Path, syncs: list[int]
    ) -> None:
        """After an unsynced commit, sync syncs the write-ahead log; a second does nothing."""
        journal.record_events([raised(alarm("A1"))], synced=False)
        assert [a.id for a in journal.open_alarms()] == ["A1"]
        journal.sync()
        assert syncs == [Path(f"{path}-wal").stat().st_ino]
        journal.sync()
        assert len(syncs) == 1

    def test_nothing_to_sync_after_synced_commits(self, journal: Journal, syncs: list[int]) -> None:
        """A synced commit syncs the log with what came before it: sync has nothing left."""
        journal.record_events([raised(alarm("A1"))], synced=False)
        journal.record_events([raised(alarm("A2"))])
        journal.sync()
        assert syncs == []

    def test_a_commit_that_changes_nothing_leaves_the_sync_due(
        self, journal: Journal, syncs: list[int]
    ) -> None:
        """A transaction without changes writes nothing to sync: the earlier commit still
        needs it."""
        journal.record_events([raised(alarm("A1"))], synced=False)
        journal.save_checkpoint({})
        journal.record_transients([])
        journal.sync()
        assert len(syncs) == 1

    def test_the_connection_is_synchronous_again_after(self, journal: Journal) -> None:
        """Only the unsynced transaction runs without waiting for the disk, even when it fails."""
        assert self.synchronous(journal) == 2  # FULL
        journal.record_events([raised(alarm("A1"))], synced=False)
        assert self.synchronous(journal) == 2
        broken = AlarmEvent(Transition.RAISED, alarm("B").with_(peak=object()), T0)
        with pytest.raises(TypeError):
            journal.record_events([raised(alarm("A3")), broken], synced=False)
        assert self.synchronous(journal) == 2
        assert [a.id for a in journal.open_alarms()] == ["A1"]

    def test_a_log_that_cannot_be_synced_is_a_journal_error(
        self, journal: Journal, path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A sync that fails names the log file, and is still due afterwards."""
        journal.record_events([raised(alarm("A1"))], synced=False)

        def fail(fd: int) -> None:
            raise OSError(5, "Input/output error")

        monkeypatch.setattr(os, "fdatasync", fail)
        with pytest.raises(JournalError, match=f"{path}-wal: cannot sync"):
            journal.sync()
        monkeypatch.undo()
        assert journal.needs_sync
        journal.sync()
        assert not journal.needs_sync

    def test_a_database_without_a_write_ahead_log_is_refused(
        self, path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Where SQLite will not keep a WAL, ``sync`` would put nothing on disk: refused,
        naming the file and the mode SQLite chose. An in-memory database stands in
        for such a file system (SQLite answers journal mode "memory" there)."""
        real_connect = sqlite3.connect

        def in_memory(database: object, *args: Any, **kwargs: Any) -> sqlite3.Connection:
            return real_connect(":memory:", *args, **kwargs)

        monkeypatch.setattr(sqlite3, "connect", in_memory)
        with pytest.raises(JournalError, match=rf"{path}: SQLite cannot keep .* 'memory'"):
            Journal(path, clock_ns=lambda: WALL_NS, os_user="envmon")

    def test_a_commit_during_a_sync_is_not_counted_as_on_disk(
        self, journal: Journal, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The lock is free while the disk works: another thread commits meanwhile,
        and its commit still needs the next sync."""
        journal.record_events([raised(alarm("A1"))], synced=False)
        real = os.fdatasync

        def fdatasync(fd: int) -> None:
            writer = threading.Thread(
                target=journal.record_events,
                args=([raised(alarm("A2"))],),
                kwargs={"synced": False},
            )
            writer.start()
            writer.join(5)
            assert not writer.is_alive(), "the commit waited for the sync"
            real(fd)

        monkeypatch.setattr(os, "fdatasync", fdatasync)
        journal.sync()
        assert journal.needs_sync
        assert {a.id for a in journal.open_alarms()} == {"A1", "A2"}

    def test_an_unsynced_commit_survives_a_killed_process(self, path: Path) -> None:
        """What was committed unsynced is in the journal after envmon is killed (SIGKILL)."""
        child = textwrap.dedent(
            """
            import os, signal, sys
            from pathlib import Path
            from envmon.journal.journal import Journal
            from tests.support.journal_samples import alarm, raised
            j = Journal(Path(sys.argv[1]))
            j.record_events([raised(alarm("K1"))], synced=False)
            os.kill(os.getpid(), signal.SIGKILL)
            """
        )
        done = subprocess.run([sys.executable, "-c", child, str(path)], check=False)
        assert done.returncode == -9
        with Journal(path) as reopened:
            assert [a.id for a in reopened.open_alarms()] == ["K1"]
            assert reopened.verify().ok


class TestJournalExcursions:
    def test_excursion_overlapping_the_window_carries_the_ack(self, journal: Journal) -> None:
        """An excursion's record holds the final excursion and its alarm's acknowledgement."""
        fill(journal)
        records = journal.excursions(T0 - 3600 * S, T0 + 3600 * S)
        by_id = {r.excursion.id: r for r in records}
        assert set(by_id) == {"X-A1", "X-A2"}
        closed = by_id["X-A1"]
        assert closed.excursion.end_ns == T0 + 120 * S
        assert closed.excursion.peak == 70.6
        assert (closed.acked_by, closed.acked_ns, closed.comment) == (
            "alice",
            T0 + 200 * S,
            "door left open",
        )
        assert by_id["X-A2"].acked_by is None

    @pytest.mark.parametrize(
        ("from_s", "to_s", "expected"),
        [
            (-100, 0, []),  # ends before the excursion starts (half-open window)
            (-100, 1, ["X-A1"]),  # touches its start
            (50, 60, ["X-A1"]),  # inside it
            (120, 200, ["X-A1"]),  # starts at its end
            (121, 200, []),  # after it
        ],
    )
    def test_window_overlap(
        self, journal: Journal, from_s: int, to_s: int, expected: list[str]
    ) -> None:
        """An excursion is returned exactly when it overlaps [from, to)."""
        a = alarm("A1")
        journal.record_events([raised(a), cleared(a, T0 + 120 * S)])
        got = journal.excursions(T0 + from_s * S, T0 + to_s * S)
        assert [r.excursion.id for r in got] == expected

    def test_open_excursion_overlaps_any_later_window(self, journal: Journal) -> None:
        """An excursion still in progress overlaps every window after its start."""
        journal.record_events([raised(alarm("A1"))])
        got = journal.excursions(T0 + 10_000 * S, T0 + 20_000 * S)
        assert [r.excursion.end_ns for r in got] == [None]
        assert [e.id for e in journal.open_excursions()] == ["X-A1"]

    def test_room_filter(self, journal: Journal) -> None:
        """Only the named rooms' excursions are returned."""
        fill(journal)
        got = journal.excursions(T0 - S, T0 + 3600 * S, rooms=["BG-B"])
        assert [r.excursion.room for r in got] == ["BG-B"]
        assert journal.excursions(T0 - S, T0 + 3600 * S, rooms=[]) == []


class TestJournalRoomStates:
    def test_changes_in_window_with_the_state_in_force_at_its_start(self, journal: Journal) -> None:
        """Per room, the last change before the window comes first, then those inside it."""
        for room, state, at_s in [
            ("FILL-A", RoomState.AT_REST, -300),
            ("FILL-A", RoomState.IN_OPERATION, -200),
            ("BG-B", RoomState.AT_REST, -100),
            ("FILL-A", RoomState.AT_REST, 50),
            ("FILL-A", RoomState.IN_OPERATION, 500),
        ]:
            journal.record_room_state(change(room, state, T0 + at_s * S))
        got = journal.room_state_changes(T0, T0 + 100 * S)
        assert [(c.room, c.state, (c.ts_ns - T0) // S) for c in got] == [
            ("FILL-A", RoomState.IN_OPERATION, -200),
            ("BG-B", RoomState.AT_REST, -100),
            ("FILL-A", RoomState.AT_REST, 50),
        ]
        only_b = journal.room_state_changes(T0, T0 + 100 * S, rooms=["BG-B"])
        assert [c.room for c in only_b] == ["BG-B"]

    def test_change_round_trips(self, journal: Journal) -> None:
        """A recorded change comes back equal, source included."""
        c = RoomStateChange(T0, "site1", "FILL-A", RoomState.AT_REST, source="schedule")
        journal.record_room_state(c)
        assert journal.room_state_changes(T0, T0 + 1) == [c]


class TestJournalRequests:
    @pytest.fixture(autouse=True)
    def _alarm_and_user(self, journal: Journal) -> None:
        journal.record_events([raised(alarm("A1"))])
        add_user(
            journal,
            "alice",
            "operator",
        )

    def test_request_is_pending_until_finished(self, journal: Journal) -> None:
        """A signed request is pending with its signature until the service records its outcome."""
        rid = sign_ack(journal)
        [pending] = journal.requests.pending()
        assert (pending.id, pending.act, pending.subject, pending.os_user) == (
            rid,
            "ack",
            "A1",
            "tester",
        )
        assert pending.signature.comment == "door left open"
        assert journal.requests.outcome(rid) is None
        journal.requests.finish(rid, "ok")
        assert journal.requests.pending() == []
        assert journal.requests.outcome(rid) == "ok"

    def test_request_ids_increase(self, journal: Journal) -> None:
        """Each request gets the next id."""
        assert [sign_ack(journal) for _ in range(3)] == [1, 2, 3]

    def test_refusal_is_recorded_as_the_outcome(self, journal: Journal) -> None:
        """A refused request keeps the refusal message as its outcome."""
        rid = sign_ack(journal)
        journal.requests.finish(rid, "alarm A1 is already acknowledged")
        assert journal.requests.outcome(rid) == "alarm A1 is already acknowledged"

    def test_finishing_twice_or_unknown_is_an_error(self, journal: Journal) -> None:
        """An outcome is recorded once, for an existing request only."""
        rid = sign_ack(journal)
        journal.requests.finish(rid, "ok")
        with pytest.raises(JournalError, match="already finished"):
            journal.requests.finish(rid, "ok")
        with pytest.raises(JournalError, match="no request 99"):
            journal.requests.finish(99, "ok")

    def test_unknown_request_has_no_outcome(self, journal: Journal) -> None:
        """Asking for a request that does not exist gives None."""
        assert journal.requests.outcome(42) is None


class TestJournalAudit:
    def test_every_entry_is_in_the_trail(self, journal: Journal) -> None:
        """Config loads, room states, transitions and ack requests/outcomes are audit entries."""
        fill(journal)
        kinds = [e.kind for e in journal.audit_entries()]
        assert kinds == [
            "config_load",
            "room_state",
            "alarm.raised",
            "alarm.raised",
            "alarm.cleared",
            "user_added",
            "signature",
            "request",
            "alarm.acked",
            "request_outcome",
        ]
        entries = journal.audit_entries()
        assert [e.seq for e in entries] == list(range(1, 11))
        assert entries[0].data == settings_load()
        assert [e.os_user for e in entries[5:]] == [
            "envmon",
            "tester",
            "tester",
            "envmon",
            "envmon",
        ]
        assert all(e.ts_ns == WALL_NS for e in entries)

    def test_limit_gives_the_newest_oldest_first(self, journal: Journal) -> None:
        """audit_entries(limit=n) returns the last n entries in order."""
        fill(journal)
        assert [e.seq for e in journal.audit_entries(limit=3)] == [8, 9, 10]

    def test_empty_journal_verifies(self, journal: Journal) -> None:
        """A new journal has no entries and no problems."""
        result = journal.verify()
        assert (result.ok, result.entries, result.problems) == (True, 0, [])

    def test_untouched_journal_verifies(self, journal: Journal) -> None:
        """A journal written only through its API verifies, counting every entry."""
        fill(journal)
        result = journal.verify()
        assert result.problems == []
        assert (result.ok, result.entries) == (True, 10)


def tamper(path: Path, sql: str, *params: object) -> None:
    conn = sqlite3.connect(path)
    cur = conn.execute(sql, params)
    assert cur.rowcount == 1, sql
    conn.commit()
    conn.close()


class TestJournalTamperDetection:
    @pytest.mark.parametrize(
        ("sql", "named"),
        [
            ("UPDATE audit SET data = replace(data, 'alice', 'bob') WHERE seq = 6", "audit seq 6"),
            ("UPDATE audit SET os_user = 'mallory' WHERE seq = 3", "audit seq 3"),
            ("UPDATE audit SET ts_ns = ts_ns + 1 WHERE seq = 1", "audit seq 1"),
            ("UPDATE alarms SET state = 'closed' WHERE id = 'A2'", "alarms id=A2: state"),
            (
                "UPDATE alarms SET record = replace(record, '35.3', '3.3') WHERE id = 'A2'",
                "alarms id=A2: record",
            ),
            ("UPDATE excursions SET end_ns = 1 WHERE id = 'X-A2'", "excursions id=X-A2: end_ns"),
            ("UPDATE room_states SET state = 'at_rest' WHERE seq = 2", "room_states seq=2: state"),
            ("UPDATE requests SET subject = 'A2' WHERE id = 1", "requests id=1: subject"),
            ("UPDATE requests SET outcome = NULL WHERE id = 1", "requests id=1: outcome"),
            ("UPDATE signatures SET \"user\" = 'bob' WHERE seq = 7", "signatures seq=7: user"),
            ("UPDATE users SET full_name = 'Bob' WHERE name = 'alice'", "users name=alice"),
            ("UPDATE chain_head SET hash = 'x' WHERE id = 1", "chain head"),
        ],
    )
    def test_altered_row_is_detected_and_named(self, path: Path, sql: str, named: str) -> None:
        """Editing any column of any table by hand makes verify fail naming the row."""
        j = Journal(path)
        fill(j)
        tamper(path, sql)
        result = j.verify()
        j.close()
        assert not result.ok
        assert any(named in p for p in result.problems), result.problems

    @pytest.mark.parametrize(
        ("sql", "named"),
        [
            ("DELETE FROM audit WHERE seq = 4", "audit seq 4: missing"),
            ("DELETE FROM audit WHERE seq = 10", "audit seq 10: missing"),
            ("DELETE FROM alarms WHERE id = 'A1'", "alarms id=A1: missing"),
            ("DELETE FROM excursions WHERE id = 'X-A1'", "excursions id=X-A1: missing"),
            ("DELETE FROM room_states WHERE seq = 2", "room_states seq=2: missing"),
            ("DELETE FROM requests WHERE id = 1", "requests id=1: missing"),
            ("DELETE FROM signatures WHERE seq = 7", "signatures seq=7: missing"),
        ],
    )
    def test_deleted_row_is_detected_and_named(self, path: Path, sql: str, named: str) -> None:
        """Deleting a row of any table makes verify fail naming the row."""
        j = Journal(path)
        fill(j)
        tamper(path, sql)
        result = j.verify()
        j.close()
        assert not result.ok
        assert any(named in p for p in result.problems), result.problems

    def test_added_derived_row_is_detected(self, path: Path) -> None:
        """A derived row that no audit entry created is reported."""
        j = Journal(path)
        fill(j)
        tamper(
            path,
            "INSERT INTO room_states (seq, site, room, state, source, ts_ns) "
            "VALUES (99, 'site1', 'FILL-A', 'at_rest', 'mqtt', 0)",
        )
        result = j.verify()
        j.close()
        assert "room_states seq=99: not in the audit trail (row added)" in result.problems

    def test_rehashed_row_breaks_the_next_link(self, path: Path) -> None:
        """Replacing a row's hash is caught at that row and the following one, in one line."""
        j = Journal(path)
        fill(j)
        tamper(path, "UPDATE audit SET hash = ? WHERE seq = 5", "f" * 64)
        result = j.verify()
        j.close()
        assert any(p.startswith("audit seq 5..6: hash mismatch") for p in result.problems)

    def test_deleted_tail_stays_visible_after_new_writes(self, path: Path) -> None:
        """Appending after a deleted last row does not hide the deletion."""
        j = Journal(path)
        fill(j)
        tamper(path, "DELETE FROM audit WHERE seq = 10")
        j.configs.record(settings_load("/f.toml", "00" * 32))
        result = j.verify()
        j.close()
        assert "audit seq 10: missing (row deleted)" in result.problems


class TestJournalFile:
    def test_file_is_private(self, path: Path) -> None:
        """The journal and its WAL files are created readable by the owner only."""
        old = os.umask(0o022)
        try:
            j = Journal(path)
            j.configs.record(settings_load("/x", "00" * 32))
            modes = {
                p.name: stat.S_IMODE(p.stat().st_mode)
                for p in path.parent.iterdir()
                if p.name.startswith(path.name)
            }
            j.close()
        finally:
            os.umask(old)
        assert modes[path.name] == 0o600
        assert all(mode == 0o600 for mode in modes.values()), modes

    def test_readonly_reads_but_refuses_writes(self, path: Path) -> None:
        """A read-only journal answers queries and refuses to write, saying so."""
        writer = Journal(path)
        fill(writer)
        reader = Journal(path, readonly=True)
        assert [a.id for a in reader.open_alarms()] == ["A2"]
        assert reader.verify().ok
        with pytest.raises(JournalError, match="read-only"):
            reader.configs.record(settings_load("/x", "00"))
        reader.close()
        writer.close()

    def test_readonly_without_a_file_says_so(self, tmp_path: Path) -> None:
        """Opening a missing journal read-only names the file instead of creating it."""
        missing = tmp_path / "nothing.sqlite"
        with pytest.raises(JournalError, match="no journal here"):
            Journal(missing, readonly=True)
        assert not missing.exists()

    def test_not_a_database_is_a_clear_error(self, tmp_path: Path) -> None:
        """A file that is not SQLite gives one message naming it."""
        bad = tmp_path / "journal.sqlite"
        bad.write_bytes(b"this is not a database, just text that is long enough" * 20)
        with pytest.raises(JournalError, match=str(bad)):
            Journal(bad)


_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from envmon.journal.journal import Journal
    from envmon.signing.testing import cheap_hashes
    from envmon.signing.rules import Act
    from tests.support.signing import Clock, attempt, signer
    j = Journal(Path(sys.argv[1]), readonly=sys.argv[2] == "read")
    if sys.argv[2] == "read":
        seen = 0
        for _ in range(200):
            seen = max(seen, len(j.alarms(include_closed=True)))
            assert j.verify().ok
        print(seen)
    else:
        with cheap_hashes():
            for i in range(40):
                signer(j, Clock()).sign(attempt("child", Act.ACK, "A0", comment=f"child {i}"))
        print("done")
    """
)


class TestJournalThreads:
    def test_threads_share_one_journal_safely(self, journal: Journal) -> None:
        """Writers on several threads of one process leave a complete, valid chain."""

        def write(prefix: str) -> None:
            for i in range(25):
                journal.record_events([raised(alarm(f"{prefix}{i}", raised_ns=T0 + i * S))])

        threads = [threading.Thread(target=write, args=(p,)) for p in "XYZ"]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(journal.open_alarms()) == 75
        result = journal.verify()
        assert (result.ok, result.entries) == (True, 75)


class TestJournalProcesses:
    def test_concurrent_processes_keep_one_chain(self, path: Path) -> None:
        """A reader and a writer process running beside this one see a consistent,
        verifiable journal, and the chain stays intact."""
        j = Journal(path)
        j.record_events([raised(alarm("A0"))])
        add_user(j, "child", "operator")
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        children = [
            subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(path), role],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                text=True,
            )
            for role in ("read", "write")
        ]
        for i in range(1, 60):
            j.record_events([raised(alarm(f"A{i}", raised_ns=T0 + i * S))])
        outputs = [c.communicate(timeout=120) for c in children]
        for child, (_out, err) in zip(children, outputs, strict=True):
            assert child.returncode == 0, err
        assert int(outputs[0][0]) >= 1
        assert outputs[1][0].strip() == "done"
        result = j.verify()
        j.close()
        assert result.problems == []
        assert result.entries == 60 + 1 + 2 * 40


class TestEngineCheckpoint:
    def test_checkpoint_round_trips_and_upserts(self, tmp_path: Path) -> None:
        """Saved channel states come back; a later save replaces a channel's state."""
        journal = Journal(tmp_path / "j.sqlite")
        journal.save_checkpoint({"R/S/diff_pressure": '{"a":1}', "R/S/temperature": '{"b":2}'})
        journal.save_checkpoint({"R/S/diff_pressure": '{"a":3}'})
        assert journal.load_checkpoint() == {
            "R/S/diff_pressure": '{"a":3}',
            "R/S/temperature": '{"b":2}',
        }
        journal.close()

    def test_events_and_checkpoint_share_a_transaction_and_verify(self, tmp_path: Path) -> None:
        """Recording events with a checkpoint keeps the audit chain intact."""
        journal = Journal(tmp_path / "j.sqlite")
        journal.record_events([raised(alarm())], checkpoint={"R/S/p": "{}"})
        assert journal.load_checkpoint() == {"R/S/p": "{}"}
        assert journal.verify().ok
        journal.close()
