"""Who judges a read's batch: the caller when the worker is idle, else the worker, in order."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from envmon.alarms.commands import WriteLimits
from envmon.alarms.events import AlarmEvent
from envmon.alarms.worker import AlarmWorker
from envmon.batches import BatchEvent, BatchEventKind, BatchMessage
from envmon.readings import Reading
from tests.support.wait import wait_for
from tests.support.worker_rig import NS, T0, Rig, dp, running_rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with running_rig(tmp_path) as r:
        yield r


def judged_where(rig: Rig) -> list[tuple[str, int]]:
    """Each reading the engine judges: the thread it was judged on, and its time."""
    seen: list[tuple[str, int]] = []
    real = rig.engine.on_reading

    def on_reading(r: Reading) -> list[AlarmEvent]:
        seen.append((threading.current_thread().name, r.ts_ns))
        return real(r)

    rig.engine.on_reading = on_reading  # type: ignore[method-assign]
    return seen


def busy_worker(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """The worker busy with a command until the event returned is set."""
    busy, go_on = threading.Event(), threading.Event()

    def slow_limits(self: AlarmWorker, now_ns: int, first_room: int) -> None:
        busy.set()
        go_on.wait(5)

    monkeypatch.setattr(AlarmWorker, "_write_limits", slow_limits)
    rig.worker.submit(WriteLimits(T0 * NS))
    assert busy.wait(5)
    return go_on


def test_an_idle_worker_lets_the_caller_judge_and_still_checkpoints(rig: Rig) -> None:
    """No thread hand-over when nothing waits: the alarm is out before ``judge``
    returns; the sleeping worker is woken for the checkpoint that releases it."""
    seen = judged_where(rig)
    wait_for(lambda: rig.worker._turns._asleep, 5, "the worker asleep")
    rig.worker.judge([(1, dp(T0, 8.0))])
    assert seen == [(threading.current_thread().name, T0 * NS)]
    assert rig.outputs.announced and rig.outputs.events  # before judge returned
    wait_for(lambda: rig.judged == [1], 5, "the release after the checkpoint")


def test_a_busy_worker_gets_the_batch_queued_and_judges_it_after(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the worker works a command, a read's batch waits its turn on the queue
    instead of the network thread waiting for the engine."""
    seen = judged_where(rig)
    go_on = busy_worker(rig, monkeypatch)
    rig.worker.judge([(1, dp(T0, 8.0)), (2, dp(T0 + 1, 8.5))])
    assert seen == [] and rig.outputs.announced == []
    go_on.set()
    wait_for(lambda: rig.judged == [2], 5, "both judged and released")
    assert seen == [("envmon-alarms", T0 * NS), ("envmon-alarms", (T0 + 1) * NS)]


def test_after_a_queued_batch_the_next_one_is_queued_too(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch must not overtake one still on the queue: readings are judged in the
    order they arrived."""
    seen = judged_where(rig)
    go_on = busy_worker(rig, monkeypatch)
    rig.worker.judge([(1, dp(T0, 5.0))])
    go_on.set()
    rig.worker.judge([(2, dp(T0 + 1, 8.0))])
    wait_for(lambda: rig.judged == [2], 5, "both released")
    assert [ts for _, ts in seen] == [T0 * NS, (T0 + 1) * NS]


def test_an_mes_batch_message_is_left_to_the_worker(rig: Rig) -> None:
    """Its journal write is synced: the network thread must not wait for the disk."""
    seen = judged_where(rig)
    wait_for(lambda: rig.worker._turns._asleep, 5, "the worker asleep")
    start = BatchEvent("B-7", BatchEventKind.START, T0 * NS, ("PREP-C",))
    rig.worker.judge([(1, BatchMessage(start, "fac/site1/batch")), (2, dp(T0, 8.0))])
    wait_for(lambda: rig.judged == [2], 5, "both released")
    assert seen == [("envmon-alarms", T0 * NS)]
    assert rig.journal.batches.get("B-7") is not None
