"""Judged messages released for acknowledgement once the journal is on disk.

The alarm worker journals what readings raise, and its checkpoints, without
waiting for the disk (``Journal.record_events(synced=False)``), so that an
alarm is not held back by a disk busy with InfluxDB's writes. Before the
broker may forget those readings, their record must be on disk: the worker
hands the last message it judged and checkpointed to ``DiskRelease``, whose
thread syncs the journal and then passes it on (``on_judged``). Requests made
while a sync runs are released together by the next one.

A failed sync releases nothing: it is logged and retried, and the broker
keeps the messages meanwhile (after a restart it redelivers them).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

from envmon.errors import EnvmonError
from envmon.runtime.lifecycle import Deadline

log = logging.getLogger("envmon.alarms")

RETRY_S: Final = 1.0


class DiskRelease:
    """One thread: ``sync`` the journal, then ``on_judged`` the newest requested number."""

    name = "journal sync"

    def __init__(
        self,
        sync: Callable[[], None],
        on_judged: Callable[[int], None],
        retry_s: float = RETRY_S,
    ) -> None:
        self._sync = sync
        self._on_judged = on_judged
        self._retry_s = retry_s
        self._cond = threading.Condition()
        self._asked = -1
        self._released = -1
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="envmon-journal-sync", daemon=True)

    def release(self, upto_seq: int) -> None:
        """Every message up to ``upto_seq`` is judged and journaled (any thread)."""
        with self._cond:
            if upto_seq > self._asked:
                self._asked = upto_seq
                self._cond.notify()

    def start(self) -> None:
        self._thread.start()

    def stop(self, deadline: Deadline) -> None:
        """Release what was asked (a last sync), then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout=deadline.remaining(0.5))
        if self._thread.is_alive():
            log.error("the journal was not synced in time; unreleased readings are redelivered")

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._asked <= self._released and not self._stopping:
                    self._cond.wait()
                upto, stopping = self._asked, self._stopping
            if upto > self._released and not self._sync_and_release(upto):
                if stopping:
                    return  # the broker keeps them: redelivered after the restart
                with self._cond:
                    if not self._stopping:  # else stop's wake-up came before this wait
                        self._cond.wait(self._retry_s)
                continue
            if stopping:
                return

    def _sync_and_release(self, upto: int) -> bool:
        try:
            self._sync()
        except EnvmonError as exc:
            log.error("journal not on disk, acknowledgements held back: %s", exc)
            return False
        except Exception:
            # A bug here must not end the thread: acknowledgements would stop for good.
            log.exception("journal not on disk, acknowledgements held back")
            return False
        self._released = upto
        try:
            self._on_judged(upto)
        except Exception:
            log.exception("releasing judged messages up to %d failed", upto)
        return True
