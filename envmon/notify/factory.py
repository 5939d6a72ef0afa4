"""Builds the people-facing notifiers that ``[notify]`` in envmon.toml asks for."""

from __future__ import annotations

from envmon.notify.base import Notifier
from envmon.notify.config import NotifySettings
from envmon.notify.email import EmailNotifier
from envmon.notify.webhook import WebhookNotifier


def build_notifiers(settings: NotifySettings) -> list[Notifier]:
    """One notifier per webhook, and one for email when it has any recipient."""
    notifiers: list[Notifier] = [WebhookNotifier(w) for w in settings.webhooks]
    email = settings.email
    if email is not None and (email.recipients or email.escalation_recipients):
        notifiers.append(EmailNotifier(email))
    return notifiers
