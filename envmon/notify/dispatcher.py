"""Delivers alarm events to people's channels (webhooks, email), off the caller's thread.

Two stages, in order:

1. ``FlapFilter`` (pure): decides per event whether people hear about it, as a
   named ``Decision``. A channel (room, sensor, parameter, level) that raises
   again within ``flap_suppress_s`` of its last notified raise is suppressed,
   and so are the later transitions of that suppressed alarm. The journal and
   the MQTT alarm topic are fed elsewhere and get everything.
2. One worker thread and queue per notifier, so a slow or failing channel
   never delays another; a failed send is retried ``notifier.retries`` times,
   waiting ``retry_initial_s`` doubling up to ``retry_max_s``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from envmon.alarms.events import AlarmEvent, Transition
from envmon.notify.base import Notifier, NotifyError
from envmon.notify.config import NotifySettings
from envmon.readings import NS_PER_S

log = logging.getLogger(__name__)


class Decision(StrEnum):
    """Why an event was, or was not, sent to people."""

    FIRST = "first"
    """A raise on a channel with no notified raise within ``flap_suppress_s``: sent."""
    FOLLOW_UP = "follow_up"
    """A later transition (cleared, acked, closed) of an alarm people heard of: sent."""
    ESCALATION = "escalation"
    """An unacknowledged action alarm escalated: always sent."""
    FLAP_SUPPRESSED = "flap_suppressed"
    """A raise within ``flap_suppress_s`` of the channel's last notified raise: held back."""
    FOLLOWS_SUPPRESSED = "follows_suppressed"
    """A later transition of an alarm whose raise was held back: held back too."""
    SHELVED = "shelved"
    """A transition of a shelved alarm (its shelving included): held back (ISA-18.2)."""

    @property
    def sends(self) -> bool:
        return self in (Decision.FIRST, Decision.FOLLOW_UP, Decision.ESCALATION)


Channel = tuple[str, str, str, str]


class FlapFilter:
    """Pure decision stage: no I/O, time handed in."""

    def __init__(self, suppress_s: float) -> None:
        self.suppress_ns = round(suppress_s * NS_PER_S)
        self._last_notified_ns: dict[Channel, int] = {}
        self._suppressed_alarms: set[str] = set()

    def decide(self, event: AlarmEvent, now_ns: int) -> Decision:
        alarm = event.alarm
        if alarm.shelved:
            return Decision.SHELVED
        if event.transition is Transition.ESCALATED:
            return Decision.ESCALATION
        if event.transition is Transition.RAISED:
            channel = (alarm.room, alarm.sensor, alarm.parameter, alarm.level.value)
            last = self._last_notified_ns.get(channel)
            if last is not None and now_ns - last < self.suppress_ns:
                self._suppressed_alarms.add(alarm.id)
                return Decision.FLAP_SUPPRESSED
            self._last_notified_ns[channel] = now_ns
            return Decision.FIRST
        suppressed = alarm.id in self._suppressed_alarms
        if not alarm.open:
            self._suppressed_alarms.discard(alarm.id)
        return Decision.FOLLOWS_SUPPRESSED if suppressed else Decision.FOLLOW_UP


@dataclass(frozen=True, slots=True)
class ChannelStats:
    """Per notifier: events delivered, given up on, and still queued."""

    delivered: int
    failed: int
    queued: int


class _Worker:
    """One notifier's queue and thread."""

    def __init__(self, notifier: Notifier, settings: NotifySettings, abort: threading.Event):
        self.notifier = notifier
        self.settings = settings
        self.abort = abort
        self.queue: queue.Queue[AlarmEvent | None] = queue.Queue()
        self.delivered = 0
        self.failed = 0
        self.thread = threading.Thread(
            target=self._run, name=f"envmon-notify {notifier.name}", daemon=True
        )

    def _run(self) -> None:
        while True:
            event = self.queue.get()
            try:
                if event is None:  # the stop sentinel
                    return
                if self.abort.is_set():
                    self.failed += 1
                    continue
                self._deliver(event)
            finally:
                self.queue.task_done()

    def _deliver(self, event: AlarmEvent) -> None:
        name, attempts = self.notifier.name, self.notifier.retries + 1
        delay_s = self.settings.retry_initial_s
        for attempt in range(1, attempts + 1):
            try:
                self.notifier.send(event)
            except NotifyError as exc:
                reason = str(exc)
            except Exception as exc:  # a channel's bug must not kill its worker
                log.exception("notify: %s crashed on alarm %s", name, event.alarm.id)
                reason = f"{type(exc).__name__}: {exc}"
            else:
                self.delivered += 1
                return
            if attempt == attempts:
                break
            log.warning(
                "notify: %s failed for alarm %s %s (attempt %d of %d): %s; retrying in %.1f s",
                name,
                event.alarm.id,
                event.transition.value,
                attempt,
                attempts,
                reason,
                delay_s,
            )
            if self.abort.wait(delay_s):
                break
            delay_s = min(delay_s * 2, self.settings.retry_max_s)
        self.failed += 1
        log.error(
            "notify: %s gave up on alarm %s %s after %d attempt(s): %s",
            name,
            event.alarm.id,
            event.transition.value,
            attempt,
            reason,
        )


class Dispatcher:
    """Decides, then hands each sendable event to every notifier's worker."""

    def __init__(
        self,
        notifiers: Sequence[Notifier],
        settings: NotifySettings,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._filter = FlapFilter(settings.flap_suppress_s)
        self._lock = threading.Lock()
        self._abort = threading.Event()
        self._workers = [_Worker(n, settings, self._abort) for n in notifiers]
        self._started = False

    def start(self) -> None:
        for worker in self._workers:
            worker.thread.start()
        self._started = True

    def submit(self, events: Sequence[AlarmEvent]) -> list[Decision]:
        """Decide each event and queue the sendable ones; never blocks on delivery."""
        decisions = []
        with self._lock:
            for event in events:
                decision = self._filter.decide(event, self._clock())
                decisions.append(decision)
                if not decision.sends:
                    log.info(
                        "notify: alarm %s %s not sent: %s",
                        event.alarm.id,
                        event.transition.value,
                        decision.value,
                    )
                    continue
                for worker in self._workers:
                    worker.queue.put(event)
        return decisions

    def flush(self, timeout_s: float) -> bool:
        """Wait until every queued event is delivered or given up; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(w.queue.unfinished_tasks == 0 for w in self._workers):
                return True
            time.sleep(0.01)
        return False

    def stop(self, timeout_s: float) -> None:
        """Deliver what is queued within ``timeout_s``, then give up on the rest."""
        if not self._started:
            return
        deadline = time.monotonic() + timeout_s
        for worker in self._workers:
            worker.queue.put(None)
        for worker in self._workers:
            worker.thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._abort.set()
        for worker in self._workers:
            worker.thread.join(timeout=0.5)
            if worker.thread.is_alive():
                left = worker.queue.unfinished_tasks - 1  # not counting the sentinel
                log.error(
                    "notify: %s stopped with %d event(s) undelivered", worker.notifier.name, left
                )
        self._started = False

    def stats(self) -> dict[str, ChannelStats]:
        return {
            w.notifier.name: ChannelStats(w.delivered, w.failed, w.queue.unfinished_tasks)
            for w in self._workers
        }
