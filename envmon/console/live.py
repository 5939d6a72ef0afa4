"""Live updates: one poll of the journal's chain head, shared by every open page.

The chain head is one row that changes with every journal entry (a raised,
cleared or acknowledged alarm, a signature, a room state). While any page
listens, one task reads it every ``interval_s``; a page learns that something
changed and fetches only the part it shows. So an open console costs the
journal one tiny read per interval, whatever the number of screens, and never
a write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Final

from starlette.concurrency import run_in_threadpool

from envmon.errors import EnvmonError

log = logging.getLogger(__name__)

POLL_INTERVAL_S: Final = 0.5


class HeadWatcher:
    """Polls ``read_head`` while anyone listens; ``changes`` yields each new seq."""

    def __init__(self, read_head: Callable[[], int], interval_s: float = POLL_INTERVAL_S) -> None:
        self._read_head = read_head
        self.interval_s = interval_s
        self.seq: int | None = None
        """The last head read; None before the first read."""
        self._listeners = 0
        # Set when the head changes, then replaced by a fresh one: each waiter
        # holds the event of its moment. (No lock to hold across a cancelled wait.)
        self._changed = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self._closing = True
        self._wake.set()
        self._changed.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        failed = False
        while not self._closing:
            if self._listeners == 0:
                self._wake.clear()
                await self._wake.wait()
                continue
            seq: int | None = self.seq
            try:
                seq = await run_in_threadpool(self._read_head)
                failed = False
            except EnvmonError as exc:
                if not failed:
                    log.warning("live updates paused: %s", exc)
                failed = True
            if seq is not None and seq != self.seq:
                self.seq = seq
                changed, self._changed = self._changed, asyncio.Event()
                changed.set()
            await asyncio.sleep(self.interval_s)

    async def changes(self, since: int, tick_s: float) -> AsyncIterator[int]:
        """Yields the head's seq whenever it differs from the last one yielded,
        and at least every ``tick_s`` (the same seq), so a stream can check its
        session; ends when the watcher stops."""
        self._listeners += 1
        self._wake.set()
        last = since
        try:
            while not self._closing:
                if self.seq is None or self.seq == last:
                    changed = self._changed
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(changed.wait(), tick_s)
                if self._closing:
                    return
                if self.seq is not None:
                    last = self.seq
                yield last
        finally:
            self._listeners -= 1
