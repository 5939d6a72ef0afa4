"""An ingest router with fakes for the store, the alarm worker and publishing."""

from __future__ import annotations

from collections.abc import Sequence

from envmon.ingest.config import IngestSettings
from envmon.ingest.drift import ClockDriftMonitor
from envmon.ingest.ingestor import Ingestor
from envmon.ingest.mqtt import Delivery
from envmon.ingest.rejects import RejectLog
from envmon.ingest.router import JudgeBatch, Router, StoreItem
from envmon.runtime.stats import StatsCollector
from tests.support.facilities import small_facility

NS = 1_000_000_000
T0 = 1_795_082_400
RECEIVED_NS = (T0 + 1) * NS


class FakeStore:
    def __init__(self) -> None:
        self.items: list[StoreItem] = []
        self.calls = 0

    def submit_many(self, items: Sequence[StoreItem]) -> None:
        self.calls += 1
        self.items.extend(items)


class FakeJudge:
    def __init__(self) -> None:
        self.batches: list[JudgeBatch] = []

    def judge(self, batch: JudgeBatch) -> None:
        self.batches.append(batch)


class FakePublish:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, bytes, int]] = []
        self.fail = fail

    def __call__(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        if self.fail:
            raise OSError("not connected")
        self.sent.append((topic, payload, qos))


class Rig:
    def __init__(self, *, publish_fails: bool = False, drift_window_s: float = 300.0) -> None:
        self.store = FakeStore()
        self.judge = FakeJudge()
        self.publish = FakePublish(publish_fails)
        self.stats = StatsCollector()
        self.router = Router(
            Ingestor(small_facility(), IngestSettings(), "fac"),
            self.store,
            self.judge,
            self.publish,
            prefix="fac",
            rejects=RejectLog(60.0),
            drift=ClockDriftMonitor(30.0, drift_window_s, 3600.0),
            stats=self.stats,
        )

    def deliver(self, *messages: Delivery, later_s: int = 0) -> None:
        self.router.on_messages(list(messages), RECEIVED_NS + later_s * NS)
