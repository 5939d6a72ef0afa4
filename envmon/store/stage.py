"""The store stage as one component: InfluxDB, the durable spool, and the writer thread.

``submit_many`` takes the ingest router's points with their MQTT tokens;
``on_durable`` is called (on the writer's thread) with those tokens, in
order, once their points are in InfluxDB or the spool. ``submit_lines``
takes lines nothing waits for (alarms, room states, limits, statistics).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final, Generic, TypeVar

from envmon.runtime.lifecycle import Deadline
from envmon.store.config import InfluxSettings, StorageSettings
from envmon.store.influx import make_writer
from envmon.store.pipeline import DurableWriter, Point, WriterStats
from envmon.store.spool import Spool

T = TypeVar("T")

# On stop, what the writer leaves for the components stopped after it.
_STOP_RESERVE_S: Final = 2.0


class StoreStage(Generic[T]):
    """Owns the spool, the InfluxDB writer and the ``DurableWriter`` thread."""

    name = "store"

    def __init__(
        self,
        influx: InfluxSettings,
        storage: StorageSettings,
        on_durable: Callable[[list[T | None]], None],
    ) -> None:
        self.spool = Spool(
            storage.spool_path,
            max_bytes=int(storage.spool_max_mb * 1024 * 1024),
            warn_pct=storage.spool_warn_pct,
        )
        self.influx = make_writer(influx)
        self._writer: DurableWriter[T | None] = DurableWriter(
            self.influx, self.spool, influx, on_durable=on_durable
        )

    @property
    def description(self) -> str:
        """Where points go, for the start-up log line."""
        return self.influx.description

    def submit_many(self, items: Sequence[tuple[Point | None, T | None]]) -> None:
        self._writer.submit_many(items)

    def submit_lines(self, lines: Sequence[str]) -> None:
        self._writer.submit_many([(line, None) for line in lines])

    def stats(self) -> WriterStats:
        return self._writer.stats()

    def validate(self) -> None:
        pass

    def start(self) -> None:
        self._writer.start()

    def stop(self, deadline: Deadline) -> None:
        """Make everything submitted durable (or leave it unacknowledged) by the deadline."""
        self._writer.stop(timeout_s=deadline.remaining(1.0, reserve_s=_STOP_RESERVE_S))

    def close(self) -> None:
        self.influx.close()
        self.spool.close()
