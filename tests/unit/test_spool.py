"""The durable spool: FIFO, restart, bound, disk full, permissions, dead letters."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from envmon.errors import EnvmonError
from envmon.store.spool import Spool, SpoolFull


def body(i: int, lines: int = 3) -> bytes:
    return "\n".join(f"m,s=x v={i}.{j} {i * 1000 + j}" for j in range(lines)).encode()


@pytest.fixture
def spool_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "spool.sqlite"


class TestSpool:
    def test_fifo(self, spool_path: Path) -> None:
        """Batches come back oldest first, with their bodies and line counts intact."""
        spool = Spool(spool_path, 10_000_000, 80)
        for i in range(5):
            spool.append(body(i), 3)
        got = spool.oldest(3)
        assert [b.body for b in got] == [body(0), body(1), body(2)]
        assert [b.lines for b in got] == [3, 3, 3]
        spool.remove([b.id for b in got])
        assert [b.body for b in spool.oldest(10)] == [body(3), body(4)]
        spool.close()

    def test_oldest_respects_max_lines_but_returns_one(self, spool_path: Path) -> None:
        """``max_lines`` caps a chunk, yet the oldest batch comes back even if larger."""
        spool = Spool(spool_path, 10_000_000, 80)
        for i in range(4):
            spool.append(body(i, 10), 10)
        assert len(spool.oldest(10, max_lines=25)) == 2
        assert len(spool.oldest(10, max_lines=1)) == 1
        spool.close()

    def test_depth_counts(self, spool_path: Path) -> None:
        """Depth in lines and bytes follows appends and removals."""
        spool = Spool(spool_path, 10_000_000, 80)
        assert (spool.depth_lines, spool.depth_bytes, spool.fill_pct) == (0, 0, 0.0)
        spool.append(body(1), 3)
        spool.append(body(2, 5), 5)
        assert spool.depth_lines == 8
        assert spool.depth_bytes > 0
        spool.remove([spool.oldest()[0].id])
        assert spool.depth_lines == 5
        spool.remove([spool.oldest()[0].id])
        assert (spool.depth_lines, spool.depth_bytes) == (0, 0)
        spool.close()

    def test_survives_restart(self, spool_path: Path) -> None:
        """A new Spool on the same file sees the backlog, in order."""
        spool = Spool(spool_path, 10_000_000, 80)
        for i in range(3):
            spool.append(body(i), 3)
        depth_bytes = spool.depth_bytes
        spool.close()
        again = Spool(spool_path, 10_000_000, 80)
        assert again.depth_lines == 9
        assert again.depth_bytes == depth_bytes
        assert [b.body for b in again.oldest(5)] == [body(0), body(1), body(2)]
        again.close()

    def test_visible_without_close(self, spool_path: Path) -> None:
        """What append returned for is on disk even if the process never closes the spool."""
        spool = Spool(spool_path, 10_000_000, 80)
        spool.append(body(7), 3)
        other = Spool(spool_path, 10_000_000, 80)  # a second connection, as after a crash
        assert [b.body for b in other.oldest()] == [body(7)]
        other.close()
        spool.close()

    def test_file_mode_0600(self, spool_path: Path) -> None:
        """The spool file and its WAL are readable by the owner only."""
        old = os.umask(0o022)
        try:
            spool = Spool(spool_path, 10_000_000, 80)
            spool.append(body(1), 3)
        finally:
            os.umask(old)
        for p in (spool_path, spool_path.with_name("spool.sqlite-wal")):
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        spool.close()

    def test_full_raises_and_keeps_what_it_has(self, spool_path: Path) -> None:
        """Past ``max_bytes`` append raises SpoolFull and the stored batches stay."""
        spool = Spool(spool_path, 300, 80)
        stored = 0
        with pytest.raises(SpoolFull):
            for _ in range(100):
                spool.append(os.urandom(40), 1)  # incompressible
                stored += 1
        assert 0 < stored < 100
        assert spool.depth_lines == stored
        assert spool.depth_bytes <= 300
        spool.close()

    def test_room_again_after_remove(self, spool_path: Path) -> None:
        """Removing batches makes room for new ones."""
        spool = Spool(spool_path, 300, 80)
        with pytest.raises(SpoolFull):
            for _ in range(100):
                spool.append(os.urandom(40), 1)
        spool.remove([b.id for b in spool.oldest(100)])
        spool.append(os.urandom(40), 1)
        assert spool.depth_lines == 1
        spool.close()

    def test_disk_full_is_spool_full(self, spool_path: Path) -> None:
        """SQLite's "database or disk is full" surfaces as SpoolFull, nothing half-stored."""
        spool = Spool(spool_path, 10**9, 80)
        spool.append(body(0), 3)
        (pages,) = spool._db.execute("PRAGMA page_count").fetchone()
        spool._db.execute(f"PRAGMA max_page_count={pages}")  # the "disk" has no more room
        with pytest.raises(SpoolFull, match="full"):
            for _ in range(50):
                spool.append(os.urandom(2000), 1)
        kept = spool.oldest(100)
        assert kept[0].body == body(0)
        assert spool.depth_lines == sum(b.lines for b in kept)
        spool.close()

    def test_warns_at_threshold_and_each_five_percent(
        self, spool_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A WARNING as the fill passes warn_pct, then one per further 5 %, not per append."""
        spool = Spool(spool_path, 100_000, 50)
        caplog.set_level(logging.WARNING, logger="envmon.store.spool")
        while spool.fill_pct < 66:
            spool.append(os.urandom(500), 1)
        warnings = [r for r in caplog.records if "full" in r.getMessage()]
        assert len(warnings) == 4  # 50, 55, 60, 65
        assert all(r.levelno == logging.WARNING for r in warnings)
        spool.close()

    def test_error_when_full(self, spool_path: Path, caplog: pytest.LogCaptureFixture) -> None:
        """Refusing a batch for lack of room is logged as an ERROR."""
        spool = Spool(spool_path, 1000, 80)
        caplog.set_level(logging.WARNING, logger="envmon.store.spool")
        with pytest.raises(SpoolFull):
            for _ in range(10):
                spool.append(os.urandom(300), 1)
        assert any(r.levelno == logging.ERROR and "full" in r.getMessage() for r in caplog.records)
        spool.close()

    def test_dead_letters_are_kept_apart(self, spool_path: Path) -> None:
        """A dead-lettered batch is kept with its reason and never replayed as a backlog."""
        spool = Spool(spool_path, 10_000_000, 80)
        spool.dead_letter(body(1), 3, "HTTP 400: partial write")
        assert spool.depth_lines == 0
        assert spool.oldest() == []
        (dead,) = spool.dead_letters()
        assert (dead.body, dead.lines, dead.reason) == (body(1), 3, "HTTP 400: partial write")
        assert spool.dead_letter_lines() == 3
        spool.close()
        assert Spool(spool_path, 10_000_000, 80).dead_letter_lines() == 3

    def test_file_shrinks_back_when_drained(self, spool_path: Path) -> None:
        """After a large backlog is replayed the file gives its space back."""
        spool = Spool(spool_path, 10**9, 80)
        for _ in range(50):
            spool.append(os.urandom(20_000), 1)
        spool.remove([b.id for b in spool.oldest(100)])
        assert spool_path.stat().st_size < 200_000
        spool.close()

    def test_corrupt_file_is_one_clear_error(self, spool_path: Path) -> None:
        """A spool file that is not SQLite gives an EnvmonError naming the file."""
        spool_path.parent.mkdir(parents=True)
        spool_path.write_bytes(b"not a database" * 100)
        with pytest.raises(EnvmonError, match=str(spool_path)):
            Spool(spool_path, 10_000, 80)
