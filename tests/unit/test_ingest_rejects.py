"""RejectLog rate limiting and the rejected-topic payload."""

from __future__ import annotations

import json
import logging

import pytest

from envmon.ingest.ingestor import Reject, excerpt
from envmon.ingest.rejects import MAX_TRACKED_TOPICS, RejectLog, rejected_payload

NS = 1_000_000_000
T0 = 1_795_082_400 * NS


def _reject(topic: str = "fac/site1/R1/climate/TH1", reason: str = "bad_json") -> Reject:
    return Reject(
        topic=topic, reason=reason, detail="payload is not valid JSON", payload_excerpt="{"
    )


class TestRejectLog:
    def test_counts_by_reason(self) -> None:
        """Every reject is counted under its reason, logged or not."""
        log = RejectLog(60.0)
        for _ in range(3):
            log.note(_reject(reason="bad_json"), T0)
        log.note(_reject(reason="unknown_room"), T0)
        assert log.counts == {"bad_json": 3, "unknown_room": 1}
        assert log.total == 4

    def test_once_per_topic_per_interval(self, caplog: pytest.LogCaptureFixture) -> None:
        """A topic is logged once per interval; the next log line says how many were suppressed."""
        log = RejectLog(60.0)
        with caplog.at_level(logging.WARNING, logger="envmon.ingest"):
            assert log.note(_reject(), T0)
            assert not log.note(_reject(), T0 + 1 * NS)
            assert not log.note(_reject(), T0 + 59 * NS)
            assert log.note(_reject(reason="bad_value"), T0 + 60 * NS)
        messages = [r.getMessage() for r in caplog.records]
        assert len(messages) == 2
        assert "fac/site1/R1/climate/TH1: bad_json: payload is not valid JSON" in messages[0]
        assert "bad_value" in messages[1] and "2 more from this topic suppressed" in messages[1]

    def test_topics_independent(self) -> None:
        """Rate limiting is per topic: another topic is logged at once."""
        log = RejectLog(60.0)
        assert log.note(_reject("a/1"), T0)
        assert log.note(_reject("a/2"), T0)
        assert not log.note(_reject("a/1"), T0)

    def test_zero_interval_logs_all(self) -> None:
        """With interval 0 every reject is logged."""
        log = RejectLog(0.0)
        assert all(log.note(_reject(), T0) for _ in range(3))

    def test_clock_stepped_back(self) -> None:
        """A clock stepped backwards does not silence a topic."""
        log = RejectLog(60.0)
        assert log.note(_reject(), T0)
        assert log.note(_reject(), T0 - 3600 * NS)

    def test_memory_bounded(self) -> None:
        """Garbage on ever new topics does not grow the tracking table without bound."""
        log = RejectLog(60.0, logger=logging.getLogger("test.silent"))
        logging.getLogger("test.silent").disabled = True
        for i in range(MAX_TRACKED_TOPICS + 500):
            log.note(_reject(f"junk/{i}"), T0)
        assert len(log._topics) <= MAX_TRACKED_TOPICS
        assert log.total == MAX_TRACKED_TOPICS + 500


class TestRejectedPayload:
    def test_fields(self) -> None:
        """The JSON carries topic, reason, detail, receive time and the excerpt."""
        body = json.loads(rejected_payload(_reject(), T0 + 250_000_000))
        assert body == {
            "topic": "fac/site1/R1/climate/TH1",
            "reason": "bad_json",
            "detail": "payload is not valid JSON",
            "received_at": "2026-11-19T10:00:00.250Z",
            "payload": "{",
        }

    def test_binary_payload_safe(self) -> None:
        """Non-UTF-8 bytes end up escaped; the result is valid UTF-8 JSON within 256 chars."""
        raw = bytes(range(256)) * 4
        reject = Reject("t", "bad_json", "d", excerpt(raw))
        data = rejected_payload(reject, T0)
        body = json.loads(data.decode("utf-8"))
        assert len(body["payload"]) == 256
        assert "\\x80" in excerpt(bytes(range(120, 140)))
