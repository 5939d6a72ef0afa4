"""Retained alarm topics: ``<prefix>/<site>/envmon/alarms/<room>/<parameter>``, and
``<prefix>/<site>/envmon/alarms/<room>/<equipment>/<parameter>`` on equipment.

The payload is the contract object of ``envmon alarms --json`` (design.md
sections 6 and 11), published retained at QoS 1 so a dashboard that
subscribes late still sees the current state of each room's (or equipment's)
parameter.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Final

from envmon.alarms.events import Alarm, AlarmEvent
from envmon.notify.base import NotifyError

log = logging.getLogger(__name__)

ALARM_QOS: Final = 1

Publish = Callable[[str, bytes, int, bool], object]
"""``publish(topic, payload, qos, retain)``, e.g. a paho client's ``publish``."""


def alarm_topic(
    prefix: str, site: str, room: str, parameter: str, equipment: str | None = None
) -> str:
    if equipment is not None:
        return f"{prefix}/{site}/envmon/alarms/{room}/{equipment}/{parameter}"
    return f"{prefix}/{site}/envmon/alarms/{room}/{parameter}"


def alarm_payload(alarm: Alarm) -> bytes:
    """``Alarm.to_json()`` as UTF-8 JSON with sorted keys."""
    return json.dumps(alarm.to_json(), sort_keys=True, ensure_ascii=False).encode("utf-8")


class MqttAlarmPublisher:
    """Publishes each alarm transition, retained, on the alarm's topic."""

    name = "mqtt alarm topic"
    retries = 0  # the MQTT client queues QoS 1 messages itself while offline

    def __init__(self, publish: Publish, prefix: str) -> None:
        self._publish = publish
        self.prefix = prefix

    def topic(self, alarm: Alarm) -> str:
        return alarm_topic(self.prefix, alarm.site, alarm.room, alarm.parameter, alarm.equipment)

    def send(self, event: AlarmEvent) -> None:
        """Publish, or raise ``NotifyError`` naming the topic."""
        topic = self.topic(event.alarm)
        try:
            self._publish(topic, alarm_payload(event.alarm), ALARM_QOS, True)
        except Exception as exc:  # any client failure becomes one NotifyError
            raise NotifyError(f"publish to {topic} failed: {exc}") from exc

    def publish(self, event: AlarmEvent) -> bool:
        """Like ``send`` but never raises: logs and returns False on failure,
        so one failed publish cannot stop the caller's other outputs."""
        try:
            self.send(event)
        except NotifyError as exc:
            log.error("alarm %s %s not published: %s", event.alarm.id, event.transition, exc)
            return False
        return True
