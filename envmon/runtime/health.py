"""Is ingest healthy? Decides whether the main loop feeds the systemd watchdog."""

from __future__ import annotations

from typing import Protocol


class WriterProgress(Protocol):
    @property
    def written_lines(self) -> int: ...
    @property
    def spooled_lines(self) -> int: ...
    @property
    def dead_lettered_lines(self) -> int: ...
    @property
    def pending(self) -> int: ...


class IngestHealth:
    """Ingest is stuck when readings wait but nothing becomes durable for a while.

    A broker outage is not "stuck" at first (paho reconnects), but one that
    lasts longer than ``mqtt_down_after_s`` is, so that systemd restarts a
    client that may be wedged.
    """

    __slots__ = (
        "_last_change",
        "_last_progress",
        "_mqtt_down_since",
        "mqtt_down_after_s",
        "stuck_after_s",
    )

    def __init__(self, stuck_after_s: float = 60.0, mqtt_down_after_s: float = 300.0) -> None:
        self.stuck_after_s = stuck_after_s
        self.mqtt_down_after_s = mqtt_down_after_s
        self._last_progress = -1
        self._last_change: float | None = None
        self._mqtt_down_since: float | None = None

    def check(
        self, *, mqtt_connected: bool, writer: WriterProgress, alarms_alive: bool, now: float
    ) -> tuple[bool, str]:
        if not alarms_alive:
            return False, "the alarm worker thread has died"
        progress = writer.written_lines + writer.spooled_lines + writer.dead_lettered_lines
        if progress != self._last_progress or writer.pending == 0:
            self._last_progress = progress
            self._last_change = now
        elif self._last_change is not None and now - self._last_change > self.stuck_after_s:
            return False, (
                f"{writer.pending} readings waiting and none stored for "
                f"{now - self._last_change:.0f} s"
            )
        if mqtt_connected:
            self._mqtt_down_since = None
        else:
            if self._mqtt_down_since is None:
                self._mqtt_down_since = now
            if now - self._mqtt_down_since > self.mqtt_down_after_s:
                return False, f"MQTT disconnected for {now - self._mqtt_down_since:.0f} s"
        return True, "ok"
