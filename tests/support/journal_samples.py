"""Plain alarm values for the journal and notify tests."""

from __future__ import annotations

from envmon.alarms.events import (
    Alarm,
    AlarmEvent,
    AlarmState,
    Excursion,
    Level,
    Transition,
)

S = 1_000_000_000
T0 = 1_795_000_000 * S  # 2026-11-18, an arbitrary fixed instant


def alarm(
    alarm_id: str = "A1",
    *,
    room: str = "FILL-A",
    sensor: str = "PC-FILL-1",
    parameter: str = "particles_5_0um",
    level: Level = Level.ACTION,
    state: AlarmState = AlarmState.ACTIVE_UNACKED,
    raised_ns: int = T0,
    **changes: object,
) -> Alarm:
    base = Alarm(
        id=alarm_id,
        site="site1",
        room=room,
        sensor=sensor,
        parameter=parameter,
        level=level,
        state=state,
        raised_ns=raised_ns,
        limit=29.0,
        peak=35.3,
        value=35.3,
        room_state="in_operation",
        samples=2,
    )
    return base.with_(**changes) if changes else base


def excursion(a: Alarm, *, end_ns: int | None = None, peak: float = 35.3) -> Excursion:
    return Excursion(
        id=f"X-{a.id}",
        alarm_id=a.id,
        site=a.site,
        room=a.room,
        sensor=a.sensor,
        parameter=a.parameter,
        level=a.level,
        start_ns=a.raised_ns,
        end_ns=end_ns,
        peak=peak,
        limit=a.limit or 0.0,
        room_state="in_operation",
        samples=3,
    )


def raised(a: Alarm) -> AlarmEvent:
    return AlarmEvent(Transition.RAISED, a, a.raised_ns, excursion(a))


def cleared(a: Alarm, at_ns: int) -> AlarmEvent:
    after = a.with_(state=AlarmState.CLEARED_UNACKED, cleared_ns=at_ns, peak=70.6)
    return AlarmEvent(Transition.CLEARED, after, at_ns, excursion(after, end_ns=at_ns, peak=70.6))


def acked(a: Alarm, at_ns: int, user: str = "alice", comment: str = "door left open") -> AlarmEvent:
    state = AlarmState.ACTIVE_ACKED if a.active else AlarmState.CLOSED
    after = a.with_(state=state, acked_by=user, acked_ns=at_ns, comment=comment)
    return AlarmEvent(Transition.ACKED, after, at_ns)


def settings_load(
    path: str = "/etc/envmon/envmon.toml", sha256: str = "ab" * 32
) -> dict[str, object]:
    """The data of a settings load at service start, as the service journals it."""
    from envmon.config_load import Compared, ConfigSource, LoadBy, settings_load_data

    by = LoadBy(ConfigSource.SERVICE_START)
    return settings_load_data(path, sha256, {"settings.mqtt.port": 1883}, Compared(None), by, "0.1")
