"""When a message may be acknowledged to the broker: durable **and** judged.

A reading is acknowledged only once InfluxDB or the spool has it (durable)
and the alarm engine has judged it and checkpointed the result (judged). A
crash before both leaves the message unacknowledged, so the broker redelivers
it; the store overwrites the duplicate and the engine, restored from its
checkpoint, ignores a reading it has already judged. Acks go out in arrival
order (MQTT 3.1.1 §4.6), whichever thread completes a message last.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, NamedTuple, TypeVar

T = TypeVar("T")


class Pending(NamedTuple, Generic[T]):
    """One message in arrival order; ``token`` is None when there is nothing to ack (QoS 0)."""

    seq: int
    needs_judgement: bool
    token: T | None


class AckGate(Generic[T]):
    __slots__ = ("_ack", "_judged_upto", "_lock", "_waiting")

    def __init__(self, ack: Callable[[list[T]], None]) -> None:
        self._ack = ack
        self._lock = threading.Lock()
        self._waiting: deque[Pending[T]] = deque()
        self._judged_upto = -1

    def durable(self, pending: Sequence[Pending[T] | None]) -> None:
        """These messages (in arrival order) are stored; None stands for a point with
        no message behind it (an alarm, a statistic)."""
        with self._lock:
            self._waiting.extend(p for p in pending if p is not None)
            self._release()

    def judged(self, upto_seq: int) -> None:
        """Every message up to ``upto_seq`` is judged and its result checkpointed."""
        with self._lock:
            if upto_seq > self._judged_upto:
                self._judged_upto = upto_seq
            self._release()

    @property
    def waiting(self) -> int:
        """Stored messages still waiting for the alarm engine."""
        return len(self._waiting)

    def _release(self) -> None:
        waiting, upto = self._waiting, self._judged_upto
        ready: list[T] = []
        while waiting and (not waiting[0].needs_judgement or waiting[0].seq <= upto):
            token = waiting.popleft().token
            if token is not None:
                ready.append(token)
        if ready:
            # Under the lock on purpose: two threads releasing must not interleave acks.
            self._ack(ready)
