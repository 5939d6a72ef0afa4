"""Whether InfluxDB answers, and when to probe it again while it does not.

Healthy until a write needs a retry; then unhealthy, with a probe due
``retry_min_s`` later. Each failed probe doubles the wait up to ``retry_max_s``;
answering again resets it to ``retry_min_s``. Plain state on a clock handed
in: no I/O but the two log lines on a change, no threads, no locking.
"""

from __future__ import annotations

import logging
from collections.abc import Callable


class InfluxHealth:
    """The health and probe backoff of one InfluxDB.

    Owned by ``DurableWriter``'s writer thread, which alone calls the methods;
    ``stats()`` reads ``healthy`` unlocked from the caller's thread (a single
    attribute read, so it is never torn).
    """

    __slots__ = (
        "_backoff_s",
        "_clock",
        "_description",
        "_healthy",
        "_log",
        "_probe_at",
        "_retry_max_s",
        "_retry_min_s",
    )

    def __init__(
        self,
        description: str,
        retry_min_s: float,
        retry_max_s: float,
        clock: Callable[[], float],
        log: logging.Logger,
    ) -> None:
        self._description = description
        self._retry_min_s = retry_min_s
        self._retry_max_s = max(retry_max_s, retry_min_s)
        self._clock = clock
        # The writer's logger: these lines are filtered and parsed under its name.
        self._log = log
        self._healthy = True
        self._backoff_s = retry_min_s
        self._probe_at = 0.0

    @property
    def healthy(self) -> bool:
        return self._healthy

    @property
    def backoff_s(self) -> float:
        """The wait before the next probe after the one due now."""
        return self._backoff_s

    @property
    def probe_at(self) -> float:
        """When the next probe is due, on the clock; 0.0 before the first outage."""
        return self._probe_at

    def mark_unhealthy(self, reason: str) -> None:
        """A write needs a retry: the first probe is due ``retry_min_s`` from now."""
        if self._healthy:
            self._log.warning(
                "%s: %s; spooling readings until it answers", self._description, reason
            )
            self._healthy = False
            self._backoff_s = self._retry_min_s
            self.schedule_probe(failed=False)

    def schedule_probe(self, failed: bool) -> None:
        """The next probe, the backoff from now; doubled first (up to the max) if one failed."""
        if failed:
            self._backoff_s = min(self._backoff_s * 2, self._retry_max_s)
        self._probe_at = self._clock() + self._backoff_s

    def mark_healthy(self, spooled_lines: int) -> None:
        """A write went through; ``spooled_lines`` is the backlog the log line reports."""
        if not self._healthy:
            self._log.warning(
                "%s answers again; %d spooled lines to replay", self._description, spooled_lines
            )
            self._backoff_s = self._retry_min_s
        self._healthy = True
