"""The alarm engine: readings and room states in, ISA-18.2 alarm events out.

Runs on event time (reading timestamps) for limits, delays and persistence, so
a replayed stream gives the same alarms; only ``check_stale`` and ``ack`` take
wall-clock times, and they are handed in. No I/O, no threads: the service
feeds it from one thread and hands the events to the journal and notifiers.

Beyond the limit channels (``channel.py``) each sensor has three alarms of its
own, on what its readings' status says (``readings.py``):
- ``sensor_fault`` (level ``fault``): a fault word or ``out_of_range`` raises
  it, and the reading is not judged; the next judged reading clears it;
- ``calibration`` (level ``calibration``): the first reading stamped
  ``calibration_overdue`` raises it, and such readings are judged as usual;
  the next ``ok`` reading (a new calibration record is in force) clears it;
- ``comm_loss`` (``stale.py``): silent longer than ``stale_after``; cleared by
  the sensor's next reading. A sensor signed out of service
  (``set_service_states``) is not watched, and its ``out_of_service`` readings
  raise and clear nothing.
Sensors on equipment are judged against the equipment's limits, in its room's
state, and their alarms carry the equipment.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Final

from envmon.alarms import channel_state
from envmon.alarms.channel import Channel
from envmon.alarms.events import Alarm, AlarmEvent, Excursion, Level, Transient, Transition
from envmon.alarms.lifecycle import AlarmBook, return_to_normal
from envmon.alarms.room_states import RoomStateHistory, clean_up_ns
from envmon.alarms.sensors import (
    CALIBRATION,
    COMM_LOSS,
    SENSOR_FAULT,
    SensorState,
    sensor_alarm,
    sensor_alarm_detail,
)
from envmon.alarms.stale import Watched, comm_losses, watch_list
from envmon.facility import Facility, Sensor, parameters_of
from envmon.gmp import LimitsTable, ResolvedLimits, limits_in_force, resolve_facility
from envmon.readings import (
    STATUS_CALIBRATION_OVERDUE,
    STATUS_OK,
    STATUS_OUT_OF_SERVICE,
    Reading,
    RoomState,
    RoomStateChange,
    StateInForce,
)
from envmon.sensor_service import ServiceStates
from envmon.signing.signature import Signature

__all__ = ["CALIBRATION", "COMM_LOSS", "SENSOR_FAULT", "AlarmEngine"]

_NO_LIMITS: Final[LimitsTable] = {}


class AlarmEngine:
    """Judges readings against the facility's resolved limits; keeps the open alarms.

    ``restored`` are open alarms from the journal: their channels resume the
    excursion, so an ongoing one is not raised twice. ``open_excursions`` (from
    the journal too, optional) give those excursions' true start and peak.
    ``start_ns`` is when sensors never heard from start counting as silent; by
    default the first ``check_stale`` call. ``checkpoint`` is what the journal
    kept of ``checkpoint()``'s results: the channels continue from it, so
    readings the broker redelivers after a restart (judged, not yet
    acknowledged) end as they did the first time. Raises ``ConfigError`` when
    the facility's limits do not resolve.
    """

    def __init__(
        self,
        facility: Facility,
        restored: Iterable[Alarm] = (),
        *,
        open_excursions: Iterable[Excursion] = (),
        start_ns: int | None = None,
        checkpoint: Mapping[str, str] | None = None,
    ) -> None:
        self._facility = facility
        self._site = facility.site
        self._limits, self._equipment_limits = resolve_facility(facility)
        self._room_states: dict[str, RoomStateHistory] = {
            room.id: RoomStateHistory(room.default_room_state, clean_up_ns(room.clean_up_s))
            for room in facility.model.rooms
        }
        self._sensors: dict[tuple[str, str], SensorState] = {}
        self._book = AlarmBook()
        self._start_ns = start_ns
        self._dirty: set[Channel] = set()
        self._last_saved: list[Channel] = []
        self._watched: list[Watched] | None = None
        self._service = ServiceStates()
        self.transients: list[Transient] = []
        """Transients ended and not yet journaled, oldest first: every channel appends
        here, and the alarm worker empties it once it has journaled them."""
        self._restore(list(restored), {e.alarm_id: e for e in open_excursions})
        self._load_checkpoint(checkpoint or {})

    # -- readings -------------------------------------------------------------------

    def on_reading(self, r: Reading) -> list[AlarmEvent]:
        """Judge one reading; events in the order they happened."""
        ts_ns, room, sensor, status = r.ts_ns, r.room, r.sensor, r.status
        values, volume_l, received_ns = r.values, r.sample_volume_l, r.received_ns
        st = self._sensors.get((room, sensor))
        if st is None:
            st = self._sensor(room, sensor)
        if ts_ns < st.last_ts_ns:
            return []
        st.last_ts_ns = ts_ns
        st.last_seen_ns = received_ns or ts_ns
        events: list[AlarmEvent] = []
        if st.comm_alarm_id is not None:
            events += self._end_sensor_alarm(st.comm_alarm_id, st.last_seen_ns)
            st.comm_alarm_id = None
        state = st.room_states.at(ts_ns)
        if status != STATUS_OK:
            if status == STATUS_OUT_OF_SERVICE:
                return events
            if status != STATUS_CALIBRATION_OVERDUE:
                if st.fault_alarm_id is None:
                    events += self._raise_sensor_alarm(st, r, state, Level.FAULT)
                return events
            if st.calibration_alarm_id is None:
                events += self._raise_sensor_alarm(st, r, state, Level.CALIBRATION)
        elif st.calibration_alarm_id is not None:
            events += self._end_sensor_alarm(st.calibration_alarm_id, ts_ns)
            st.calibration_alarm_id = None
        if st.fault_alarm_id is not None:
            events += self._end_sensor_alarm(st.fault_alarm_id, ts_ns)
            st.fault_alarm_id = None
        channels = st.channels
        book = self._book
        for parameter, value in values.items():
            channel = channels.get(parameter)
            if channel is None:
                channel = self._channel(st, parameter)
                if channel is None:
                    continue
            found = channel.observe(value, volume_l, ts_ns, state, book)
            self._dirty.add(channel)
            if found:
                events += found
        return events

    def prime(self) -> int:
        """Build the channels of every facility sensor now rather than on its first
        reading; returns how many were built.

        The service calls this at start and after a reload, so that a sensor's
        first reading does not pay for building its channels.
        """
        built = 0
        for sensor in self._facility.model.sensors:
            st = self._state_of(sensor)
            for parameter in parameters_of(sensor):
                if parameter not in st.channels and self._channel(st, parameter) is not None:
                    built += 1
        return built

    # -- restart checkpoints ------------------------------------------------------------

    def checkpoint(self) -> dict[str, str]:
        """The state of every channel that judged a reading since the last call and
        is not idle now, or was not idle when last saved (``channel_state.checkpoint_json``).

        Keys are ``room/sensor/parameter``; values JSON. The service stores them
        (journal) before it acknowledges the readings, so that after a crash the
        engine continues exactly: readings the broker redelivers and the
        checkpoint already covers are not newer than the channel's last one.
        """
        out = {}
        saved = []
        for channel in self._dirty:
            text = channel_state.checkpoint_json(channel)
            if text is not None:
                out[channel.key] = text
                saved.append(channel)
        self._dirty.clear()
        self._last_saved = saved
        return out

    def checkpoint_lost(self) -> None:
        """The last ``checkpoint()`` could not be stored: its channels go into the next
        one, written whatever their state (the store may hold an older one)."""
        for channel in self._last_saved:
            channel.saved_idle = False
            self._dirty.add(channel)
        self._last_saved = []

    @property
    def has_unsaved_state(self) -> bool:
        """Whether a channel judged a reading since the last ``checkpoint()``."""
        return bool(self._dirty)

    def _load_checkpoint(self, checkpoint: Mapping[str, str]) -> None:
        for key, text in checkpoint.items():
            room, sensor, parameter = key.split("/", 2)
            st = self._sensors.get((room, sensor)) or self._sensor(room, sensor)
            if parameter not in st.limits:
                continue  # no longer monitored
            channel = st.channels.get(parameter) or self._channel(st, parameter)
            if channel is not None:
                channel_state.load_state(channel, json.loads(text), self._book)

    def _state_of(self, sensor: Sensor) -> SensorState:
        """A facility sensor's state, made on first need."""
        st = self._sensors.get((sensor.room, sensor.id))
        return st if st is not None else self._sensor(sensor.room, sensor.id)

    def _sensor(self, room: str, sensor: str) -> SensorState:
        states = self._room_states.get(room)
        if states is None:
            states = self._room_states[room] = RoomStateHistory(RoomState.IN_OPERATION)
        equipment = self._equipment_of(room, sensor)
        st = self._sensors[(room, sensor)] = SensorState(
            room, sensor, states, equipment, self._limits_table(room, equipment)
        )
        return st

    def _equipment_of(self, room: str, sensor: str) -> str | None:
        known = self._facility.sensors.get(sensor)
        return known.equipment if known is not None and known.room == room else None

    def _limits_table(self, room: str, equipment: str | None) -> LimitsTable:
        if equipment is not None:
            return self._equipment_limits.get(equipment, _NO_LIMITS)
        return self._limits.get(room, _NO_LIMITS)

    def _channel(self, st: SensorState, parameter: str) -> Channel | None:
        """A new channel; None for a room the facility does not list or an unknown parameter."""
        limits = st.limits.get(parameter)
        if limits is None:
            return None
        channel = st.channels[parameter] = Channel(
            self._site, st.room, st.sensor, parameter, limits, st.equipment, self.transients
        )
        return channel

    # -- sensor fault and communication loss ---------------------------------------

    def _raise_sensor_alarm(
        self, st: SensorState, r: Reading, state: StateInForce, level: Level
    ) -> list[AlarmEvent]:
        """The sensor's ``fault`` or ``calibration`` alarm, raised at the reading's time."""
        detail = sensor_alarm_detail(self._facility, r, level)
        alarm = sensor_alarm(self._site, st, r.ts_ns, state, level, detail)
        if level is Level.FAULT:
            st.fault_alarm_id = alarm.id
        else:
            st.calibration_alarm_id = alarm.id
        events = [AlarmEvent(Transition.RAISED, alarm, r.ts_ns)]
        self._book.record(events)
        return events

    def _end_sensor_alarm(self, alarm_id: str, at_ns: int) -> list[AlarmEvent]:
        alarm = self._book.get(alarm_id)
        if alarm is None:
            return []
        events = return_to_normal(alarm, at_ns)
        self._book.record(events)
        return events

    def check_stale(self, now_ns: int) -> list[AlarmEvent]:
        """Raise ``comm_loss`` for each facility sensor silent longer than its
        ``stale_after`` (wall clock: last reading's ``received_ns``, else ``ts_ns``)."""
        if self._start_ns is None:
            self._start_ns = now_ns
        if self._watched is None:
            self._watched = watch_list(self._facility.model.sensors, self._state_of)
        events = comm_losses(self._watched, self._site, self._service, self._start_ns, now_ns)
        self._book.record(events)
        return events

    # -- room state, acknowledgement, queries -------------------------------------

    def on_room_state(self, change: RoomStateChange) -> list[AlarmEvent]:
        """Record a state change; it applies to readings from ``change.ts_ns`` on."""
        states = self._room_states.get(change.room)
        if states is None:
            states = self._room_states[change.room] = RoomStateHistory(RoomState.IN_OPERATION)
        states.record(change.ts_ns, change.state)
        return []

    def room_state(self, room: str, at_ns: int) -> StateInForce:
        """The state in force at ``at_ns`` (``room_states.py``)."""
        states = self._room_states.get(room)
        return states.at(at_ns) if states is not None else StateInForce.IN_OPERATION

    def acknowledge(self, alarm_id: str, signature: Signature, at_ns: int) -> list[AlarmEvent]:
        """A signed acknowledgement, applied at ``at_ns``; ``acked_ns`` is the
        signature's ``signed_ns``. Raises ``AckRefused`` (or a subclass: unknown,
        closed, already acknowledged, shelved)."""
        return self._book.ack(_alarm_key(alarm_id), "", "", at_ns, signature)

    def shelve(
        self, alarm_id: str, signature: Signature, until_ns: int, at_ns: int
    ) -> list[AlarmEvent]:
        """Shelve an open alarm until ``until_ns``; raises ``AlarmActRefused``."""
        return self._book.shelve(_alarm_key(alarm_id), signature, until_ns, at_ns)

    def unshelve(self, alarm_id: str, signature: Signature, at_ns: int) -> list[AlarmEvent]:
        """End a shelving by signature; raises ``AlarmActRefused``."""
        return self._book.unshelve(_alarm_key(alarm_id), signature, at_ns)

    def expire_shelved(self, now_ns: int) -> list[AlarmEvent]:
        """Unshelve the alarms whose shelving ended by ``now_ns`` (wall clock)."""
        return self._book.expire_shelved(now_ns)

    def set_service_states(self, states: ServiceStates) -> None:
        """Sensors' out-of-service periods (``Journal.service_states``): no
        ``comm_loss`` while out of service, and silence counts from the return."""
        self._service = states

    def open_alarms(self) -> list[Alarm]:
        """Alarms not yet closed (active, or latched awaiting ack), oldest first."""
        return self._book.open_alarms()

    def active_count(self) -> int:
        return self._book.active_count()

    def limits(self, room: str, parameter: str, state: StateInForce) -> ResolvedLimits | None:
        """The resolved limits the engine uses (None for an unknown room or parameter)."""
        return limits_in_force(self._limits.get(room, {}).get(parameter, {})).get(state)

    def equipment_limits(
        self, equipment: str, parameter: str, state: StateInForce
    ) -> ResolvedLimits | None:
        """The resolved limits of a piece of equipment (None when it has none for it)."""
        by_state = self._equipment_limits.get(equipment, {}).get(parameter, {})
        return limits_in_force(by_state).get(state)

    # -- restart and reload -------------------------------------------------------

    def _restore(self, alarms: list[Alarm], excursions: dict[str, Excursion]) -> None:
        for alarm in alarms:
            if not alarm.open:
                continue
            self._book.restore(alarm)
            if not alarm.active:
                continue
            st = self._sensors.get((alarm.room, alarm.sensor)) or self._sensor(
                alarm.room, alarm.sensor
            )
            if alarm.level is Level.FAULT:
                st.fault_alarm_id = alarm.id
                st.last_ts_ns = max(st.last_ts_ns, alarm.raised_ns)
            elif alarm.level is Level.CALIBRATION:
                st.calibration_alarm_id = alarm.id
            elif alarm.level is Level.COMM_LOSS:
                st.comm_alarm_id = alarm.id
            else:
                channel = st.channels.get(alarm.parameter) or self._channel(st, alarm.parameter)
                if channel is not None:
                    channel_state.resume(channel, alarm, excursions.get(alarm.id), self._book)

    @property
    def facility(self) -> Facility:
        """The facility the engine judges against (the latest reload's)."""
        return self._facility

    def replace_facility(self, facility: Facility) -> None:
        """Reload (SIGHUP): new limits and sensors; channels that still exist keep their
        state. A channel whose room is gone has no limits: its next reading clears it.
        Raises ``ConfigError`` (and changes nothing) when the new limits do not resolve."""
        limits, equipment_limits = resolve_facility(facility)
        self._watched = None
        self._facility = facility
        self._site = facility.site
        self._limits, self._equipment_limits = limits, equipment_limits
        for room in facility.model.rooms:
            states = self._room_states.get(room.id)
            if states is None:
                states = self._room_states[room.id] = RoomStateHistory(None)
            states.configure(room.default_room_state, clean_up_ns(room.clean_up_s))
        for st in self._sensors.values():
            st.equipment = self._equipment_of(st.room, st.sensor)
            st.limits = self._limits_table(st.room, st.equipment)
            for parameter, channel in st.channels.items():
                channel.equipment = st.equipment
                channel.set_limits(st.limits.get(parameter, {}))


def _alarm_key(alarm_id: str) -> str:
    return alarm_id.strip().lower()
