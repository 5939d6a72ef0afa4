"""Why an acknowledgement was refused, each with one message a user can act on."""

from __future__ import annotations

from envmon.errors import EnvmonError


class AckRefused(EnvmonError):
    """An ``envmon ack`` that cannot be applied."""


class UnknownAlarm(AckRefused):
    """No open or recently closed alarm has this id."""


class AlarmAlreadyClosed(AckRefused):
    """The alarm's life is over: it returned to normal and was acknowledged."""


class AlarmAlreadyAcked(AckRefused):
    """The alarm is still active but someone has acknowledged it already."""
