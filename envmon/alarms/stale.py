"""Communication loss: which watched sensors have been silent longer than their
``stale_after``, each raised as a ``comm_loss`` alarm.

Wall clock, handed in by the engine (``AlarmEngine.check_stale``), which owns
the sensors' states and records the events; nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from envmon.alarms.events import AlarmEvent, Transition
from envmon.alarms.sensors import SensorState, comm_loss_alarm
from envmon.facility import Sensor
from envmon.readings import NS_PER_S
from envmon.sensor_service import ServiceStates

Watched = tuple[Sensor, SensorState, int]
"""A facility sensor, its state, and a silence (ns) it cannot be stale under."""


def watch_list(
    sensors: Iterable[Sensor], state_of: Callable[[Sensor], SensorState]
) -> list[Watched]:
    """Each sensor, with its state (``state_of``) and the silence it cannot be stale under."""
    return [
        (sensor, state_of(sensor), int(sensor.stale_after * NS_PER_S) - 1_000) for sensor in sensors
    ]


def comm_losses(
    watched: Iterable[Watched], site: str, service: ServiceStates, start_ns: int, now_ns: int
) -> list[AlarmEvent]:
    """``comm_loss`` raised at ``now_ns`` for each watched sensor silent longer than its
    ``stale_after``: since its last reading's ``received_ns`` (else ``ts_ns``), or since
    ``start_ns`` when never heard from. Each raised alarm's id goes on the sensor's state."""
    events: list[AlarmEvent] = []
    # Every few seconds over every sensor of a campus: the common case (heard
    # from recently, or already alarmed) is one comparison of integers.
    for sensor, st, quiet_ns in watched:
        if st.comm_alarm_id is not None:
            continue
        last_ns = st.last_seen_ns or start_ns
        if now_ns - last_ns < quiet_ns:
            continue
        if service and service.has_periods(sensor.id):
            # Out of service: silence is expected. Back in service: silence
            # counts from the return.
            if service.out_of_service(sensor.id, now_ns):
                continue
            last_ns = max(last_ns, service.returned_ns(sensor.id, now_ns) or 0)
            if now_ns - last_ns < quiet_ns:
                continue
        silent_s = (now_ns - last_ns) / NS_PER_S
        if silent_s <= sensor.stale_after:
            continue
        alarm = comm_loss_alarm(
            site, st, sensor.stale_after, now_ns, silent_s, bool(st.last_seen_ns)
        )
        st.comm_alarm_id = alarm.id
        events.append(AlarmEvent(Transition.RAISED, alarm, now_ns))
    return events
