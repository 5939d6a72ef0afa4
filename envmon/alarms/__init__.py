"""Alarms: GMP limits judged on event time, ISA-18.2 lifecycle, excursions.

``AlarmEngine`` is the entry point; the event types live in ``events``.
"""

from envmon.alarms.engine import COMM_LOSS, SENSOR_FAULT, AlarmEngine
from envmon.alarms.errors import AckRefused, AlarmAlreadyAcked, AlarmAlreadyClosed, UnknownAlarm
from envmon.alarms.events import Alarm, AlarmEvent, AlarmState, Excursion, Level, Transition

__all__ = [
    "COMM_LOSS",
    "SENSOR_FAULT",
    "AckRefused",
    "Alarm",
    "AlarmAlreadyAcked",
    "AlarmAlreadyClosed",
    "AlarmEngine",
    "AlarmEvent",
    "AlarmState",
    "Excursion",
    "Level",
    "Transition",
    "UnknownAlarm",
]
