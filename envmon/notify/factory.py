"""Builds the people-facing notifiers that ``[notify]`` in envmon.toml asks for."""

from __future__ import annotations

from envmon.notify.base import Notifier
from envmon.notify.config import NotifySettings
from envmon.notify.email import EmailNotifier, ParametersNow
from envmon.notify.webhook import WebhookNotifier


def build_notifiers(settings: NotifySettings, parameters: ParametersNow) -> list[Notifier]:
    """One notifier per webhook, and one for email when it has any recipient; ``parameters``
    gives the running facility's parameters, whose names and units the email shows."""
    notifiers: list[Notifier] = [WebhookNotifier(w) for w in settings.webhooks]
    email = settings.email
    if email is not None and (email.recipients or email.escalation_recipients):
        notifiers.append(EmailNotifier(email, parameters))
    return notifiers
