"""What happens to a rejected message: counted, logged rate-limited, published.

``RejectLog.record`` counts every reject by reason and logs at most once per
topic per ``interval_s`` (saying how many were suppressed meanwhile), so a
sensor spamming garbage cannot flood the journal. ``rejected_payload`` is the
JSON published on ``<prefix>/<site>/envmon/rejected`` (the caller publishes).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import orjson

from envmon.ingest.ingestor import EXCERPT_CHARS, Reject
from envmon.readings import NS_PER_S, isoformat_ns

log = logging.getLogger("envmon.ingest")
MAX_TRACKED_TOPICS: Final = 10_000


@dataclass(slots=True)
class _TopicLog:
    last_logged_s: float
    suppressed: int = 0


class RejectLog:
    """Counts rejects by reason; logs once per topic per interval."""

    __slots__ = ("_by_reason", "_interval_s", "_logger", "_topics")

    def __init__(self, interval_s: float, logger: logging.Logger = log) -> None:
        self._interval_s = interval_s
        self._logger = logger
        self._by_reason: Counter[str] = Counter()
        self._topics: dict[str, _TopicLog] = {}

    @property
    def counts(self) -> Mapping[str, int]:
        """Rejects so far, by reason code."""
        return dict(self._by_reason)

    @property
    def total(self) -> int:
        return sum(self._by_reason.values())

    def note(self, reject: Reject, received_ns: int) -> bool:
        """Count ``reject``; log it unless its topic was logged within the interval.

        ``received_ns`` (the message's receive time) is the clock. Returns
        whether it was logged.
        """
        now_s = received_ns / NS_PER_S
        self._by_reason[reject.reason] += 1
        entry = self._topics.get(reject.topic)
        # A clock stepped back must not silence a topic until it catches up.
        if entry is not None and 0 <= now_s - entry.last_logged_s < self._interval_s:
            entry.suppressed += 1
            return False
        suppressed = entry.suppressed if entry is not None else 0
        if entry is None:
            self._forget_old(now_s)
            self._topics[reject.topic] = _TopicLog(now_s)
        else:
            entry.last_logged_s = now_s
            entry.suppressed = 0
        more = f" ({suppressed} more from this topic suppressed)" if suppressed else ""
        self._logger.warning(
            "rejected message on %s: %s: %s%s", reject.topic, reject.reason, reject.detail, more
        )
        return True

    def _forget_old(self, now_s: float) -> None:
        """Bound memory when garbage arrives on ever new topics."""
        if len(self._topics) < MAX_TRACKED_TOPICS:
            return
        expired = [
            t for t, e in self._topics.items() if now_s - e.last_logged_s >= self._interval_s
        ]
        for topic in expired:
            del self._topics[topic]
        if len(self._topics) >= MAX_TRACKED_TOPICS:
            # All recent: drop the oldest half rather than grow without bound.
            by_age = sorted(self._topics, key=lambda t: self._topics[t].last_logged_s)
            for topic in by_age[: len(by_age) // 2]:
                del self._topics[topic]


def rejected_payload(reject: Reject, received_ns: int) -> bytes:
    """JSON for the ``.../envmon/rejected`` topic; valid UTF-8 whatever the payload was."""
    return orjson.dumps(
        {
            "topic": reject.topic,
            "reason": reject.reason,
            "detail": reject.detail,
            "received_at": isoformat_ns(received_ns),
            "payload": reject.payload_excerpt[:EXCERPT_CHARS],
        }
    )
