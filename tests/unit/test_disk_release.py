"""DiskRelease: judged messages released only after the journal's sync, newest first."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from envmon.alarms.release import DiskRelease
from envmon.errors import EnvmonError
from envmon.runtime.lifecycle import Deadline
from tests.support.wait import wait_for


class Disk:
    """A sync that can be held open, or made to fail, and counts its calls."""

    def __init__(self) -> None:
        self.syncs = 0
        self.fail = 0
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def sync(self) -> None:
        self.entered.set()
        assert self.gate.wait(5)
        self.syncs += 1
        if self.fail:
            self.fail -= 1
            raise EnvmonError("journal.sqlite-wal: cannot sync the journal's log: I/O error")


def soon() -> Deadline:
    return Deadline(time.monotonic() + 5)


@pytest.fixture
def disk() -> Disk:
    return Disk()


@pytest.fixture
def released() -> list[int]:
    return []


@pytest.fixture
def release(disk: Disk, released: list[int]) -> Iterator[DiskRelease]:
    r = DiskRelease(disk.sync, released.append, retry_s=0.02)
    r.start()
    yield r
    disk.gate.set()
    r.stop(soon())


def test_a_release_waits_for_the_sync(
    disk: Disk, release: DiskRelease, released: list[int]
) -> None:
    """Nothing is released while the sync runs; the number after it."""
    disk.gate.clear()
    release.release(3)
    assert disk.entered.wait(5)
    assert released == []
    disk.gate.set()
    wait_for(lambda: released == [3], 5, "release of 3")
    assert disk.syncs == 1


def test_requests_during_a_sync_go_together_in_the_next(
    disk: Disk, release: DiskRelease, released: list[int]
) -> None:
    """Numbers asked while a sync runs are released by one more sync, newest only."""
    disk.gate.clear()
    release.release(1)
    assert disk.entered.wait(5)
    release.release(2)
    release.release(5)
    release.release(4)  # older than what was asked: nothing
    disk.gate.set()
    wait_for(lambda: released == [1, 5], 5, "release of 1 then 5")
    assert disk.syncs == 2


def test_a_failed_sync_releases_nothing_until_one_succeeds(
    disk: Disk, release: DiskRelease, released: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    """A sync that fails is logged with its reason and retried; then the release comes."""
    disk.fail = 2
    release.release(7)
    wait_for(lambda: released == [7], 5, "release after two failures")
    assert disk.syncs == 3
    held = [r.getMessage() for r in caplog.records if "held back" in r.getMessage()]
    assert len(held) == 2
    assert "I/O error" in held[0]


def test_a_bug_in_the_sync_does_not_end_the_thread(released: list[int]) -> None:
    """An unexpected error from the sync is logged and retried like a failed sync."""
    calls: list[int] = []

    def sync() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("bug")

    r = DiskRelease(sync, released.append, retry_s=0.02)
    r.release(3)
    r.start()
    wait_for(lambda: released == [3], 5, "the release after the bug")
    assert len(calls) == 2
    r.stop(soon())


def test_a_failing_release_does_not_end_the_thread(disk: Disk, released: list[int]) -> None:
    """A bug downstream costs that release, not the ones after it."""
    calls: list[int] = []

    def on_judged(seq: int) -> None:
        calls.append(seq)
        if seq == 1:
            raise RuntimeError("bug")
        released.append(seq)

    r = DiskRelease(disk.sync, on_judged)
    r.start()
    r.release(1)
    wait_for(lambda: calls == [1], 5, "first release")
    r.release(2)
    wait_for(lambda: released == [2], 5, "second release")
    r.stop(soon())


def test_stop_syncs_and_releases_what_was_asked(disk: Disk, released: list[int]) -> None:
    """Stopping releases the last number asked, after a last sync."""
    disk.gate.clear()
    r = DiskRelease(disk.sync, released.append)
    r.start()
    r.release(1)
    assert disk.entered.wait(5)
    r.release(9)
    disk.gate.set()
    r.stop(soon())
    assert released[-1] == 9


def test_stop_with_a_failing_disk_releases_nothing(released: list[int]) -> None:
    """A stop asked while a sync fails gets one last sync at once (not after the retry
    wait); when that fails too, stop ends without a release: the broker redelivers."""
    syncs: list[float] = []
    r = DiskRelease(lambda: failing(), released.append, retry_s=60)
    stopper = threading.Thread(target=r.stop, args=(soon(),))

    def failing() -> None:
        syncs.append(time.monotonic())
        if len(syncs) == 1:
            stopper.start()
            wait_for(lambda: r._stopping, 5, "the stop asked")
        raise EnvmonError("journal.sqlite-wal: cannot sync the journal's log: I/O error")

    r.release(4)
    r.start()
    wait_for(lambda: stopper.ident is not None, 5, "the stop")
    stopper.join(10)
    assert not stopper.is_alive()
    assert len(syncs) == 2
    assert syncs[1] - syncs[0] < 5
    assert released == []
