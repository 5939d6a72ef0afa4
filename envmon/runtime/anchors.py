"""Writing the journal's chain head to InfluxDB (``audit_anchor``), through the store.

A scheduled job calls ``write`` every ``[storage] anchor_interval_s``; the
component writes one more when the service stops, after the alarm worker's
last entries, so a journal truncated while the service was down is detected
too (``envmon audit --verify``, ``envmon.journal.anchors``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from envmon.errors import EnvmonError
from envmon.journal.anchors import anchor_line
from envmon.journal.journal import Journal
from envmon.runtime.lifecycle import Deadline

log = logging.getLogger("envmon.journal")


class LineSink(Protocol):
    def submit_lines(self, lines: Sequence[str]) -> None: ...


class AnchorWriter:
    """Anchors ``journal``'s head for ``site`` in the store."""

    name = "audit anchors"

    def __init__(
        self,
        journal: Journal,
        store: LineSink,
        site: Callable[[], str],
        clock_ns: Callable[[], int],
    ) -> None:
        self._journal = journal
        self._store = store
        self._site = site
        self._clock_ns = clock_ns

    def write(self) -> None:
        """Submit the current head (nothing for an empty journal)."""
        try:
            seq, sha256 = self._journal.head()
        except EnvmonError as exc:
            log.error("audit anchor not written: %s", exc)
            return
        if seq > 0:
            self._store.submit_lines([anchor_line(self._site(), seq, sha256, self._clock_ns())])

    def validate(self) -> None:
        pass

    def start(self) -> None:
        pass

    def stop(self, deadline: Deadline) -> None:
        self.write()

    def close(self) -> None:
        pass
