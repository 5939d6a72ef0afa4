"""Whose turn it is to work the alarm engine: the alarm worker, or the thread that
brings a batch of readings when nothing is queued.

The worker takes its work from one queue, in order. Handing a socket read's
batch over costs a thread wake-up each time and holds an alarm back by it,
so a batch that finds the queue empty and the engine free is judged at once
by the thread that brought it (MQTT's network thread). One lock keeps it to
one thread at a time; a batch never overtakes one still queued; and the
caller never waits for the engine: when the worker has it, the batch is
queued like any other.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final, Generic, TypeVar

Item = TypeVar("Item")


class Wake:
    """Queued when a batch was judged by its caller while the worker slept with
    nothing unsaved: its checkpoint is now due."""


WAKE: Final = Wake()


class Turns(Generic[Item]):
    """The worker's queue and the lock on the engine."""

    def __init__(self) -> None:
        self.engine = threading.Lock()
        """Held by whoever works the engine."""
        self._queue: queue.SimpleQueue[Item | Wake] = queue.SimpleQueue()
        self._count = threading.Lock()
        self._queued = 0  # put and not yet done; under _count
        self._asleep = False  # the worker waits with nothing unsaved; under _count
        self._callers = True

    def put(self, item: Item) -> None:
        """Queue work for the worker; it calls ``done`` once it has handled it."""
        with self._count:
            self._queued += 1
        self._queue.put(item)

    @contextmanager
    def callers_turn(self) -> Iterator[bool]:
        """Whether the caller may work the engine now (holding it until the block
        ends): True when nothing is queued and the worker does not have it."""
        if not self._callers or not self.engine.acquire(blocking=False):
            yield False
            return
        try:
            with self._count:
                mine = self._queued == 0
                wake = mine and self._asleep
                self._asleep = self._asleep and not wake
            yield mine
        finally:
            self.engine.release()
        if wake:
            self._queue.put(WAKE)

    def only_the_worker(self) -> None:
        """From now on every batch is queued (on stop: the worker finishes the queue)."""
        self._callers = False

    # --- the worker's side --------------------------------------------------------

    def sleeping(self, idle: bool) -> None:
        """The worker is about to wait; ``idle``: with nothing unsaved, so without a
        timeout (a caller's batch then wakes it). Call holding ``engine``."""
        with self._count:
            self._asleep = idle

    def get(self, timeout_s: float | None = None) -> Item | Wake:
        """The next item or ``WAKE``; raises ``queue.Empty`` after ``timeout_s``."""
        return self._queue.get(timeout=timeout_s)

    def done(self) -> None:
        """One item put has been handled. Call holding ``engine``."""
        with self._count:
            self._queued -= 1
