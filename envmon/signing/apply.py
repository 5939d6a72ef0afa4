"""What the service does with a signed request (the alarm worker calls this).

``apply_request`` turns one ``SignedRequest`` into its effect on the alarm
engine and says what else the worker must do; it raises ``EnvmonError``
when the act cannot be applied any more (the alarm closed meanwhile, the
sensor is already out of service), and that message is the outcome to
record. The worker then, in order: journals and publishes ``events`` (with
``room_state`` applied through its usual room-state path first), records
``journal.requests.finish(request.id, OUTCOME_OK)``, and, if
``service_changed``, hands ``journal.requests.service_states()`` to the
engine and to ingest (the finish entry is what opens or closes the period).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from envmon.alarms.engine import AlarmEngine
from envmon.alarms.events import AlarmEvent
from envmon.errors import EnvmonError
from envmon.journal.requests import SignedRequest
from envmon.readings import RoomState, RoomStateChange, isoformat_ns
from envmon.sensor_service import ServiceStates
from envmon.signing.rules import Act

SIGNED_SOURCE_PREFIX = "user:"
"""A room state set by signature has ``source = "user:<name>"``."""


@dataclass(frozen=True, slots=True)
class Applied:
    """The effect of one applied request."""

    events: list[AlarmEvent] = field(default_factory=list)
    room_state: RoomStateChange | None = None
    """For the worker's room-state path (engine, journal, InfluxDB)."""
    service_changed: bool = False
    """An out-of-service or in-service request: reload the service states after finishing."""


def apply_request(
    engine: AlarmEngine, request: SignedRequest, now_ns: int, service: ServiceStates
) -> Applied:
    """Apply ``request`` at ``now_ns`` (wall clock); ``service`` is the current
    sensor service states. Raises ``EnvmonError`` with the refusal."""
    try:
        act = Act(request.act)
    except ValueError:
        raise EnvmonError(f"refused: unknown act {request.act!r}") from None
    subject, signature = request.subject, request.signature
    if act is Act.ACK:
        return Applied(engine.acknowledge(subject, signature, now_ns))
    if act is Act.SHELVE:
        until_ns = request.until_ns
        if until_ns is None:
            raise EnvmonError("refused: a shelve request needs until_ns")
        if until_ns <= now_ns:
            raise EnvmonError(
                f"refused: the shelving ended ({isoformat_ns(until_ns)}) before it applied"
            )
        return Applied(engine.shelve(subject, signature, until_ns, now_ns))
    if act is Act.UNSHELVE:
        return Applied(engine.unshelve(subject, signature, now_ns))
    if act is Act.OUT_OF_SERVICE:
        _known_sensor(engine, subject)
        period = service.period_at(subject, now_ns)
        if period is not None:
            end = "" if period.end_ns is None else f" until {isoformat_ns(period.end_ns)}"
            raise EnvmonError(f"refused: sensor {subject} is already out of service{end}")
        if request.until_ns is not None and request.until_ns <= now_ns:
            raise EnvmonError(
                f"refused: --until {isoformat_ns(request.until_ns)} passed before it applied"
            )
        return Applied(service_changed=True)
    if act is Act.IN_SERVICE:
        _known_sensor(engine, subject)
        if not service.out_of_service(subject, now_ns):
            raise EnvmonError(f"refused: sensor {subject} is in service")
        return Applied(service_changed=True)
    if act is Act.ROOM_STATE:
        if subject not in engine.facility.rooms:
            raise EnvmonError(f"refused: no room {subject!r} in the facility")
        try:
            state = RoomState(request.state or "")
        except ValueError:
            raise EnvmonError(f"refused: unknown room state {request.state!r}") from None
        change = RoomStateChange(
            ts_ns=now_ns,
            site=engine.facility.site,
            room=subject,
            state=state,
            source=SIGNED_SOURCE_PREFIX + signature.user,
        )
        return Applied(room_state=change)
    raise EnvmonError(f"refused: the service does not apply {act.value} requests")


def _known_sensor(engine: AlarmEngine, sensor: str) -> None:
    if sensor not in engine.facility.sensors:
        raise EnvmonError(f"refused: no sensor {sensor!r} in the facility")
