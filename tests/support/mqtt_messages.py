"""Messages from ``MqttSource`` one at a time, for tests that take them singly."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from envmon.ingest.mqtt import Delivery, OnMessages


class Message(NamedTuple):
    topic: str
    payload: bytes
    mid: int
    qos: int
    received_ns: int


def each_message(handle: Callable[[Message], None]) -> OnMessages:
    """An ``on_messages`` callback that calls ``handle`` for each message of a read."""

    def on_messages(batch: list[Delivery], received_ns: int) -> None:
        for topic, payload, mid, qos in batch:
            handle(Message(topic, payload, mid, qos, received_ns))

    return on_messages
