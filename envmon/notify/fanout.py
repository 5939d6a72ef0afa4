"""The notify stage: where an alarm event goes.

``announce``: the retained alarm topic (``alarm_topic.py``), which alarm
panels watch. ``send``: InfluxDB's ``alarm`` measurement (for Grafana), the
log, and people's channels (``Dispatcher``: webhooks and email, off this
thread, with the flap filter and retries). The alarm worker calls ``send``
once the journal has recorded the events, so no person is told what is not on
record; ``announce`` comes before the journal for what readings raise and
after it for the rest (``envmon.alarms.recorder`` says why).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final, Protocol

from envmon.alarms.events import AlarmEvent
from envmon.notify.alarm_topic import MqttAlarmPublisher
from envmon.notify.dispatcher import Dispatcher
from envmon.runtime.lifecycle import Deadline
from envmon.store.lineproto import alarm_line

log = logging.getLogger("envmon.alarms")

# On stop, what the dispatcher leaves for the components stopped after it.
_STOP_RESERVE_S: Final = 1.5


class LineSink(Protocol):
    def submit_lines(self, lines: Sequence[str]) -> None: ...


class AlarmFanout:
    """Sends each alarm event to every output; one component with the dispatcher's workers."""

    name = "notify"

    def __init__(
        self, store: LineSink, publisher: MqttAlarmPublisher, dispatcher: Dispatcher
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._dispatcher = dispatcher

    def announce(self, events: Sequence[AlarmEvent]) -> None:
        for event in events:
            self._publisher.publish(event)

    def send(self, events: Sequence[AlarmEvent]) -> None:
        self._store.submit_lines([alarm_line(event) for event in events])
        for event in events:
            alarm = event.alarm
            log.info(
                "alarm %s %s: %s %s %s %s",
                alarm.id,
                event.transition.value,
                alarm.level.value,
                alarm.room,
                alarm.parameter,
                alarm.sensor,
            )
        self._dispatcher.submit(events)

    def tell_people(self, events: Sequence[AlarmEvent]) -> None:
        """Only people's channels: what is not an alarm on record (calibration reminders)."""
        self._dispatcher.submit(events)

    def validate(self) -> None:
        pass

    def start(self) -> None:
        self._dispatcher.start()

    def stop(self, deadline: Deadline) -> None:
        """Deliver what people's channels have queued, within the deadline."""
        self._dispatcher.stop(timeout_s=deadline.remaining(0.5, reserve_s=_STOP_RESERVE_S))

    def close(self) -> None:
        pass
