"""The one contract every notification channel implements."""

from __future__ import annotations

from typing import Protocol

from envmon.alarms.events import AlarmEvent
from envmon.errors import EnvmonError


class NotifyError(EnvmonError):
    """A channel could not deliver; the message says why, without secrets."""


class Notifier(Protocol):
    """One notification channel (a webhook, an email list, the alarm topic).

    ``name`` identifies the channel in logs and must hold no secret;
    ``retries`` is how many times the dispatcher retries a failed ``send``.
    """

    name: str
    retries: int

    def send(self, event: AlarmEvent) -> None:
        """Deliver one event, or raise ``NotifyError``."""
        ...
