"""systemd notify protocol: READY, WATCHDOG, STOPPING (a no-op outside systemd)."""

from __future__ import annotations

import os

import sdnotify


class SystemdNotifier:
    """Talks to ``$NOTIFY_SOCKET`` when systemd set one; otherwise does nothing."""

    def __init__(self) -> None:
        self._enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        self._notifier = sdnotify.SystemdNotifier() if self._enabled else None

    def _send(self, message: str) -> None:
        if self._notifier is not None:
            self._notifier.notify(message)

    def ready(self) -> None:
        self._send("READY=1\nSTATUS=ingesting")

    def watchdog(self) -> None:
        self._send("WATCHDOG=1")

    def stopping(self) -> None:
        self._send("STOPPING=1")

    def status(self, text: str) -> None:
        self._send(f"STATUS={text}")

    @staticmethod
    def watchdog_interval_s() -> float:
        """Half of systemd's WatchdogSec, as sd_watchdog_enabled(3) advises."""
        usec = os.environ.get("WATCHDOG_USEC")
        if not usec or not usec.isdigit() or int(usec) == 0:
            return 5.0
        return max(0.1, int(usec) / 2_000_000)
