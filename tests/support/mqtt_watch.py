"""Watching envmon's own MQTT topics (retained alarms, rejects, warnings) as a subscriber."""

from __future__ import annotations

import json
import threading
from typing import Any

import paho.mqtt.client as mqtt


class TopicWatcher:
    """Subscribes to ``topics`` (QoS 1) and keeps every JSON message, by topic.

    ``latest(topic)`` is what a late subscriber of a retained topic sees;
    ``all(suffix)`` every message so far on topics ending in ``suffix``.
    """

    def __init__(
        self,
        port: int,
        topics: tuple[str, ...] = ("fac/site1/envmon/alarms/#",),
        client_id: str = "test-watcher",
    ) -> None:
        self._lock = threading.Lock()
        self._messages: list[tuple[str, dict[str, Any]]] = []
        self._latest: dict[str, dict[str, Any]] = {}
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([(topic, 1) for topic in topics])
        self.client.loop_start()
        if not subscribed.wait(10):
            raise AssertionError(f"could not subscribe to {topics} on port {port}")

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        payload = json.loads(msg.payload)
        with self._lock:
            self._messages.append((msg.topic, payload))
            self._latest[msg.topic] = payload

    def latest(self, topic: str) -> dict[str, Any] | None:
        with self._lock:
            return self._latest.get(topic)

    def latest_with(self, key: str, value: object) -> dict[str, Any] | None:
        """The last message whose ``key`` is ``value`` (e.g. an alarm by its id)."""
        with self._lock:
            for _, payload in reversed(self._messages):
                if payload.get(key) == value:
                    return payload
        return None

    def all(self, suffix: str = "") -> list[dict[str, Any]]:
        with self._lock:
            return [payload for topic, payload in self._messages if topic.endswith(suffix)]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
