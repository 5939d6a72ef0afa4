"""Why a signed act on an alarm was refused, each with one message a user can act on."""

from __future__ import annotations

from envmon.errors import EnvmonError


class AlarmActRefused(EnvmonError):
    """An acknowledgement, shelving or unshelving that cannot be applied."""


class AckRefused(AlarmActRefused):
    """An ``envmon ack`` that cannot be applied."""


class UnknownAlarm(AckRefused):
    """No open or recently closed alarm has this id."""


class AlarmAlreadyClosed(AckRefused):
    """The alarm's life is over: it returned to normal and was acknowledged."""


class AlarmAlreadyAcked(AckRefused):
    """The alarm is still active but someone has acknowledged it already."""


class AlarmShelved(AckRefused):
    """The alarm is shelved: unshelve it before acknowledging."""


class AlarmAlreadyShelved(AlarmActRefused):
    """The alarm is shelved already; unshelve it first to shelve it anew."""


class AlarmNotShelved(AlarmActRefused):
    """An unshelve of an alarm that is not shelved."""
