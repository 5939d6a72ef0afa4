"""Webhook channel: each alarm transition POSTed as JSON.

Body: ``{"transition", "at", "alarm": <Alarm.to_json()>, "excursion": {...} | null}``.
Any 2xx is success; anything else is a ``NotifyError`` that the dispatcher
retries with backoff.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from envmon import __version__ as envmon_version
from envmon.alarms.events import AlarmEvent, Excursion
from envmon.notify.base import NotifyError
from envmon.notify.config import WebhookSettings
from envmon.readings import isoformat_ns


def redacted_url(url: str) -> str:
    """The URL without credentials or query string, fit for logs."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def excursion_json(excursion: Excursion) -> dict[str, Any]:
    end = excursion.end_ns
    return {
        "id": excursion.id,
        "level": excursion.level.value,
        "rule": excursion.rule,
        "equipment": excursion.equipment,
        "start": isoformat_ns(excursion.start_ns),
        "end": None if end is None else isoformat_ns(end),
        "duration_s": excursion.duration_s,
        "peak": excursion.peak,
        "limit": excursion.limit,
        "room_state": excursion.room_state,
        "samples": excursion.samples,
    }


def webhook_body(event: AlarmEvent) -> bytes:
    body = {
        "transition": event.transition.value,
        "at": isoformat_ns(event.at_ns),
        "alarm": event.alarm.to_json(),
        "excursion": None if event.excursion is None else excursion_json(event.excursion),
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")


class WebhookNotifier:
    """POSTs each event to one URL."""

    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings
        self.name = f"webhook {redacted_url(settings.url)}"
        self.retries = settings.retries

    def send(self, event: AlarmEvent) -> None:
        request = urllib.request.Request(
            self.settings.url,
            data=webhook_body(event),
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": f"envmon/{envmon_version}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise NotifyError(f"HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            raise NotifyError(f"cannot reach the server: {exc.reason}") from None
        except (OSError, ValueError) as exc:
            raise NotifyError(f"request failed: {exc}") from None
