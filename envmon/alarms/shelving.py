"""ISA-18.2 shelving of one alarm, as pure functions.

A signed shelving sets an alarm aside until ``shelved_until``: its state is
``shelved``, it stays on its retained topic and in the journal, and people are
not notified of it. Underneath, its lifecycle goes on (``underlying_state``:
it may return to normal meanwhile). A signed unshelve, or the end of the
shelving, returns it to the state it would be in; if that is ``closed``, a
``CLOSED`` event follows.
"""

from __future__ import annotations

from envmon.alarms.errors import AlarmAlreadyClosed, AlarmAlreadyShelved, AlarmNotShelved
from envmon.alarms.events import Alarm, AlarmEvent, AlarmState, Transition
from envmon.readings import isoformat_ns
from envmon.signing.signature import Signature


def shelve(alarm: Alarm, signature: Signature, until_ns: int, at_ns: int) -> list[AlarmEvent]:
    """``SHELVED`` until ``until_ns``; raises ``AlarmAlreadyClosed`` or
    ``AlarmAlreadyShelved``. ``until_ns`` is checked against ``[alarms]
    max_shelve_s`` where the signature is taken (``signing.rules``)."""
    if alarm.state is AlarmState.CLOSED:
        raise AlarmAlreadyClosed(f"alarm {alarm.id} is already closed: nothing to shelve")
    if alarm.state is AlarmState.SHELVED:
        raise AlarmAlreadyShelved(
            f"alarm {alarm.id} is already shelved until {_until(alarm)}: unshelve it first"
        )
    after = alarm.with_(
        state=AlarmState.SHELVED,
        underlying_state=alarm.state,
        shelved_until_ns=until_ns,
        signatures=(*alarm.signatures, signature),
    )
    return [AlarmEvent(Transition.SHELVED, after, at_ns)]


def unshelve(alarm: Alarm, at_ns: int, signature: Signature | None = None) -> list[AlarmEvent]:
    """``UNSHELVED`` (then ``CLOSED`` if it closed underneath); a ``signature``
    for an unshelve by request, None at the end of the shelving. Raises
    ``AlarmNotShelved``."""
    if alarm.state is not AlarmState.SHELVED:
        raise AlarmNotShelved(f"alarm {alarm.id} is not shelved (it is {alarm.state.value})")
    signatures = alarm.signatures if signature is None else (*alarm.signatures, signature)
    after = alarm.with_(
        state=alarm.lifecycle_state,
        underlying_state=None,
        shelved_until_ns=None,
        signatures=signatures,
    )
    events = [AlarmEvent(Transition.UNSHELVED, after, at_ns)]
    if after.state is AlarmState.CLOSED:
        events.append(AlarmEvent(Transition.CLOSED, after, at_ns))
    return events


def expire(alarm: Alarm, now_ns: int) -> list[AlarmEvent]:
    """Unshelve ``alarm`` if its shelving ended by ``now_ns``; else nothing."""
    if (
        alarm.state is not AlarmState.SHELVED
        or alarm.shelved_until_ns is None
        or now_ns < alarm.shelved_until_ns
    ):
        return []
    return unshelve(alarm, now_ns)


def _until(alarm: Alarm) -> str:
    return "-" if alarm.shelved_until_ns is None else isoformat_ns(alarm.shelved_until_ns)
