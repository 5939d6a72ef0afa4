"""Where a received message goes: decoded once, then to the store and the alarm worker.

The MQTT source calls ``Router.on_messages`` on its network thread with the
messages of one socket read. Each message gets its place in arrival order
(``seq``) and goes to the store with its MQTT token, so acknowledgements go
out in order (``AckGate``): a reading or room-state change to be stored and
judged; an MES batch message with nothing to store, acknowledged once the
alarm worker has journaled it, as a judged reading; anything else (a reject,
one of envmon's own topics) with nothing to store, acknowledged once
everything before it is. Readings, room states and batch messages then go,
as one batch per read, to the alarm worker, which judges them on this
thread when it is idle (``AlarmWorker.judge``).

Never blocks and never raises: a bug on one message costs only that message,
which stays unacknowledged until the broker redelivers it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Final, Protocol

from envmon.batches import BatchMessage
from envmon.ingest.ackgate import Pending
from envmon.ingest.drift import ClockDriftMonitor, DriftWarning, warnings_topic
from envmon.ingest.ingestor import Ingestor, Reject
from envmon.ingest.mqtt import Delivery
from envmon.ingest.rejects import RejectLog, rejected_payload
from envmon.readings import STATUS_OUT_OF_SERVICE, Reading, RoomStateChange
from envmon.runtime.stats import StatsCollector
from envmon.sensor_service import ServiceStates
from envmon.store.lineproto import room_state_line
from envmon.store.pipeline import Point

log = logging.getLogger("envmon.ingest")

MessageToken = tuple[int, int]
"""``(mid, qos)`` of a message: what the MQTT source needs to acknowledge it."""
Judged = Reading | RoomStateChange | BatchMessage
JudgeBatch = list[tuple[int, Judged]]
"""Messages to judge, in arrival order, with their arrival numbers."""
StoreItem = tuple[Point | None, Pending[MessageToken] | None]

REJECTED_QOS: Final = 0
WARNING_QOS: Final = 1


class Store(Protocol):
    def submit_many(self, items: Sequence[StoreItem]) -> None: ...


class Judge(Protocol):
    def judge(self, batch: JudgeBatch) -> None: ...


class Publish(Protocol):
    def __call__(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None: ...


class Router:
    """Decodes each message and hands it on; see the module docstring."""

    def __init__(
        self,
        ingestor: Ingestor,
        store: Store,
        judge: Judge,
        publish: Publish,
        *,
        prefix: str,
        rejects: RejectLog,
        drift: ClockDriftMonitor,
        stats: StatsCollector,
    ) -> None:
        self.ingestor = ingestor
        self._store = store
        self._judge = judge
        self._publish = publish
        self._prefix = prefix
        self._rejects = rejects
        self._drift = drift
        self._stats = stats
        self._seq = 0  # the network thread's only
        self._service = ServiceStates()
        self._accepting = threading.Event()
        self._accepting.set()

    def set_service_states(self, states: ServiceStates) -> None:
        """Sensors' out-of-service periods, from the alarm worker (one reference swap)."""
        self._service = states

    def stop_accepting(self) -> None:
        """From now on messages are left unacknowledged: the broker redelivers them
        to the next run."""
        self._accepting.clear()

    def on_messages(self, messages: list[Delivery], received_ns: int) -> None:
        """The messages of one socket read, in arrival order, received at ``received_ns``."""
        if not self._accepting.is_set():
            return
        to_store: list[StoreItem] = []
        to_judge: JudgeBatch = []
        readings = 0
        # Looked at once per read: almost always no sensor is out of service.
        service = self._service if self._service else None
        for message in messages:
            self._seq += 1
            seq = self._seq
            try:
                result = self.ingestor.handle(message.topic, message.payload, received_ns)
                judged = isinstance(result, Reading | RoomStateChange | BatchMessage)
                token = Pending(seq, judged, (message.mid, message.qos)) if message.qos else None
                if isinstance(result, Reading):
                    readings += 1
                    if service is not None:
                        result = _stamp_service(result, service)
                    # Formatted as line protocol on the store's thread (store/pipeline.py).
                    to_store.append((result, token))
                    to_judge.append((seq, result))
                    drift = self._drift.observe(result)
                    if drift is not None:
                        self._warn_drift(result, drift)
                elif isinstance(result, RoomStateChange):
                    to_store.append((room_state_line(result), token))
                    to_judge.append((seq, result))
                elif isinstance(result, BatchMessage):
                    to_store.append((None, token))
                    to_judge.append((seq, result))
                else:
                    to_store.append((None, token))
                    if isinstance(result, Reject):
                        self._reject(result, received_ns)
            except Exception:
                log.exception("error handling a message on %s", message.topic)
        self._stats.readings(readings)
        if to_store:
            self._store.submit_many(to_store)
        if to_judge:
            self._judge.judge(to_judge)

    def _warn_drift(self, reading: Reading, warning: DriftWarning) -> None:
        log.warning("clock drift: %s", warning.detail)
        topic = warnings_topic(self._prefix, reading.site)
        self._courtesy_publish(topic, warning.payload(), WARNING_QOS)

    def _reject(self, reject: Reject, received_ns: int) -> None:
        self._stats.reject(reject.reason)
        self._rejects.note(reject, received_ns)
        topic = f"{self._prefix}/{self.ingestor.site}/envmon/rejected"
        self._courtesy_publish(topic, rejected_payload(reject, received_ns), REJECTED_QOS)

    def _courtesy_publish(self, topic: str, payload: bytes, qos: int) -> None:
        try:
            self._publish(topic, payload, qos)
        except Exception as exc:  # noqa: BLE001 - a failed courtesy publish must not stop ingest
            log.debug("could not publish to %s: %s", topic, exc)


def _stamp_service(reading: Reading, service: ServiceStates) -> Reading:
    """A reading of a sensor signed out of service is stored as such, not judged."""
    if service.out_of_service(reading.sensor, reading.ts_ns):
        return reading._replace(status=STATUS_OUT_OF_SERVICE)
    return reading
