"""Alarm outputs: the retained MQTT alarm topic, webhooks, email, escalation."""

from envmon.notify.alarm_topic import MqttAlarmPublisher, alarm_payload, alarm_topic
from envmon.notify.base import Notifier, NotifyError
from envmon.notify.dispatcher import ChannelStats, Decision, Dispatcher, FlapFilter
from envmon.notify.escalation import due_escalations
from envmon.notify.factory import build_notifiers

__all__ = [
    "ChannelStats",
    "Decision",
    "Dispatcher",
    "FlapFilter",
    "MqttAlarmPublisher",
    "Notifier",
    "NotifyError",
    "alarm_payload",
    "alarm_topic",
    "build_notifiers",
    "due_escalations",
]
