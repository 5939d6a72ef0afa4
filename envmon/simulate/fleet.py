"""A deterministic model of a cleanroom sensor fleet: facility + time → MQTT messages.

Pure: no clock, no network. Every value is drawn from a random generator
seeded with (seed, sensor, timestamp), so the same arguments always give the
same payloads, whatever order they are asked for in. Payloads follow the
contract (design.md sections 3 and 11): particle counts per 28.3 L sample,
°C, %RH, Pa, and for equipment ``values`` by parameter (``equipment.py``).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from envmon.facility import Facility, Room, Sensor
from envmon.readings import NS_PER_S, Kind, RoomState, isoformat_ns, ns_to_datetime
from envmon.simulate.equipment import equipment_value
from envmon.simulate.events import (
    DoorOpening,
    Dropout,
    EquipmentDoorOpening,
    Event,
    ParticleBurst,
    StateChange,
    TemperatureDrift,
)

SAMPLE_VOLUME_L: Final = 28.3
_M3_PER_SAMPLE: Final = SAMPLE_VOLUME_L / 1000.0

# Background concentrations (counts/m³: ≥0.5 µm, ≥5.0 µm) of a well-run room,
# well inside the Annex 1 limits. Grade A and B-at-rest ≥5.0 µm are nearly
# zero: one count in a 28.3 L sample is already 35/m³, above their limit of 29.
BACKGROUND_PER_M3: Final[Mapping[tuple[str, RoomState], tuple[float, float]]] = {
    ("A", RoomState.AT_REST): (35.0, 0.05),
    ("A", RoomState.IN_OPERATION): (250.0, 0.1),
    ("B", RoomState.AT_REST): (300.0, 0.1),
    ("B", RoomState.IN_OPERATION): (25_000.0, 200.0),
    ("C", RoomState.AT_REST): (20_000.0, 150.0),
    ("C", RoomState.IN_OPERATION): (250_000.0, 2_000.0),
    ("D", RoomState.AT_REST): (250_000.0, 2_000.0),
    ("D", RoomState.IN_OPERATION): (900_000.0, 7_000.0),
}
TEMPERATURE_SETPOINT_C: Final = 20.5
TEMPERATURE_DIURNAL_AMPLITUDE_C: Final = 0.6
TEMPERATURE_OPERATION_RISE_C: Final = 0.4
HUMIDITY_SETPOINT_PCT: Final = 45.0
# Each room is held this much above its reference room (Pa), plus a per-room
# offset: a cascade A > B > C > D with 13-15 Pa steps.
PRESSURE_STEP_PA: Final = 13.0
PRESSURE_STEP_SPREAD_PA: Final = 2.0
# An open door nearly equalises the two rooms; what is left after this:
DOOR_OPEN_RESIDUAL_PA: Final = 2.0
DOOR_RECOVERY_S: Final = 3.0
RANDOM_BURST_FACTOR: Final = 3.0


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT publication."""

    topic: str
    payload: str
    retain: bool = False


@dataclass(frozen=True)
class FleetOptions:
    """Random disturbances on top of a scenario's scripted events.

    Rates are per room (bursts) or per sensor (dropouts) per hour. A random
    burst raises a room's particle level to ``RANDOM_BURST_FACTOR`` times its
    background: visible on a chart, well inside the action limits.
    """

    random_bursts_per_h: float = 0.0
    random_burst_s: float = 20.0
    random_dropouts_per_h: float = 0.0
    random_dropout_s: float = 30.0
    random_equipment_doors_per_h: float = 0.0
    """Per piece of equipment: short door openings its limits' delays are meant for."""
    random_equipment_door_s: float = 20.0


@dataclass(frozen=True)
class Fleet:
    """The sensors of one facility, publishing under ``prefix``.

    ``start_ns`` is the scenario's time zero: its events are offsets from it.
    """

    facility: Facility
    start_ns: int
    events: Sequence[Event] = ()
    seed: int = 0
    prefix: str = "fac"
    options: FleetOptions = field(default_factory=FleetOptions)

    # --- topics -------------------------------------------------------------

    def sensor_topic(self, sensor: Sensor) -> str:
        return f"{self.prefix}/{self.facility.site}/{sensor.room}/{sensor.kind}/{sensor.id}"

    def state_topic(self, room_id: str) -> str:
        return f"{self.prefix}/{self.facility.site}/{room_id}/state"

    # --- the whole tick -----------------------------------------------------

    def messages(self, ts_ns: int, previous_ns: int | None = None) -> list[Message]:
        """Everything published at ``ts_ns``.

        Room states are published (retained) for every room on the first tick
        (``previous_ns`` None) and afterwards only for rooms whose state changed
        since ``previous_ns``; then one reading per sensor that is not dropped out.
        """
        # The state carries the tick's time: readings of this tick are judged under it,
        # not under the room's default until the broker has delivered the message.
        out = [
            Message(
                self.state_topic(room_id),
                json.dumps({"state": str(state), "ts": isoformat_ns(ts_ns)}),
                retain=True,
            )
            for room_id, state in self.state_changes(ts_ns, previous_ns)
        ]
        for sensor in self.facility.model.sensors:
            payload = self.payload(sensor, ts_ns)
            if payload is not None:
                out.append(Message(self.sensor_topic(sensor), payload))
        return out

    def state_changes(self, ts_ns: int, previous_ns: int | None) -> list[tuple[str, RoomState]]:
        changes = []
        for room_id in self.facility.rooms:
            state = self.room_state(room_id, ts_ns)
            if previous_ns is None or state != self.room_state(room_id, previous_ns):
                changes.append((room_id, state))
        return changes

    def payload(self, sensor: Sensor, ts_ns: int) -> str | None:
        """The sensor's JSON payload at ``ts_ns``, or None while it is silent."""
        if self.dropped_out(sensor.id, ts_ns):
            return None
        rng = self._rng(sensor.id, ts_ns)
        body: dict[str, object] = {"ts": iso_us(ts_ns)}
        if sensor.kind is Kind.PARTICLES:
            counts_0_5, counts_5_0 = self.particle_counts(sensor.room, ts_ns, rng)
            body["sample_volume_l"] = SAMPLE_VOLUME_L
            body["counts"] = {"0.5": counts_0_5, "5.0": counts_5_0}
            body["status"] = "ok"
        elif sensor.kind is Kind.CLIMATE:
            temperature_c, humidity_pct = self.climate(sensor.room, ts_ns, rng)
            body["temperature_c"] = temperature_c
            body["humidity_pct"] = humidity_pct
        elif sensor.kind is Kind.EQUIPMENT:
            body["values"] = self.equipment_values(sensor, ts_ns, rng)
            body["status"] = "ok"
        else:
            body["diff_pressure_pa"] = self.diff_pressure(sensor.room, ts_ns, rng)
        return json.dumps(body, separators=(",", ":"))

    def equipment_values(self, sensor: Sensor, ts_ns: int, rng: random.Random) -> dict[str, float]:
        """The parameters an equipment sensor lists, as its equipment reads them now."""
        assert sensor.equipment is not None
        item = self.facility.equipment[sensor.equipment]
        offset_s = self._offset_s(ts_ns)
        events = [*self.events, *self._random_doors(item.id, ts_ns)]
        return {
            p: equipment_value(self.facility, item, p, offset_s, events, self.seed, rng)
            for p in sensor.parameters or ()
        }

    def _random_doors(self, equipment: str, ts_ns: int) -> list[EquipmentDoorOpening]:
        """Random short door openings, each in a slot of ten door lengths, so that the
        equipment recovers between two."""
        per_h = self.options.random_equipment_doors_per_h
        if per_h <= 0:
            return []
        door_s = self.options.random_equipment_door_s
        slot_s = 10 * door_s
        slot = int(self._offset_s(ts_ns) // slot_s)
        doors = []
        for k in (slot - 1, slot):
            picker = random.Random(f"{self.seed}:door:{equipment}:{k}")
            if picker.random() < min(per_h * slot_s / 3600.0, 1.0):
                doors.append(EquipmentDoorOpening(k * slot_s, door_s, equipment))
        return doors

    # --- room state -----------------------------------------------------------

    def room_state(self, room_id: str, ts_ns: int) -> RoomState:
        """The room's default state, changed by the latest StateChange at or before ``ts_ns``.

        A room whose default is ``strictest`` starts in operation, as a production
        demo does, and the first tick publishes that state before any reading.
        """
        state = self.facility.rooms[room_id].default_room_state or RoomState.IN_OPERATION
        latest = -math.inf
        for event in self.events:
            if (
                isinstance(event, StateChange)
                and event.room == room_id
                and event.at_s <= self._offset_s(ts_ns)
                and event.at_s >= latest
            ):
                state, latest = event.state, event.at_s
        return state

    # --- parameters -------------------------------------------------------------

    def particle_counts(self, room_id: str, ts_ns: int, rng: random.Random) -> tuple[int, int]:
        """Cumulative counts (≥0.5 µm, ≥5.0 µm) in one 28.3 L sample; the first includes
        the second."""
        room = self.facility.rooms[room_id]
        state = self.room_state(room_id, ts_ns)
        base_0_5, base_5_0 = BACKGROUND_PER_M3[(grade_of(room), state)]
        # Slow activity swings (people moving, equipment running) of about ±30 %.
        phase = self._room_phase(room_id)
        activity = 1.0 + 0.3 * math.sin(2 * math.pi * self._offset_s(ts_ns) / 900.0 + phase)
        mean_0_5 = base_0_5 * activity
        mean_5_0 = base_5_0 * activity
        offset_s = self._offset_s(ts_ns)
        for event in self.events:
            if (
                isinstance(event, ParticleBurst)
                and event.room == room_id
                and event.covers(offset_s)
            ):
                mean_0_5 += event.per_m3_0_5um
                mean_5_0 += event.per_m3_5_0um
        if self._random_burst(room_id, ts_ns):
            mean_0_5 += base_0_5 * (RANDOM_BURST_FACTOR - 1)
            mean_5_0 += base_5_0 * (RANDOM_BURST_FACTOR - 1)
        counts_5_0 = poisson(rng, mean_5_0 * _M3_PER_SAMPLE)
        small_only = poisson(rng, max(mean_0_5 - mean_5_0, 0.0) * _M3_PER_SAMPLE)
        return counts_5_0 + small_only, counts_5_0

    def climate(self, room_id: str, ts_ns: int, rng: random.Random) -> tuple[float, float]:
        """Temperature (°C) with a diurnal swing peaking mid-afternoon UTC, and humidity (%RH)."""
        hours = (ts_ns / NS_PER_S % 86_400) / 3600.0
        diurnal = TEMPERATURE_DIURNAL_AMPLITUDE_C * math.sin(2 * math.pi * (hours - 9.0) / 24.0)
        in_operation = self.room_state(room_id, ts_ns) is RoomState.IN_OPERATION
        offset_s = self._offset_s(ts_ns)
        drift = sum(
            e.delta_c
            for e in self.events
            if isinstance(e, TemperatureDrift) and e.room == room_id and e.covers(offset_s)
        )
        temperature = (
            TEMPERATURE_SETPOINT_C
            + diurnal
            + (TEMPERATURE_OPERATION_RISE_C if in_operation else 0.0)
            + drift
            + rng.gauss(0.0, 0.05)
        )
        # Warmer air at the same moisture has a lower relative humidity.
        humidity = HUMIDITY_SETPOINT_PCT - 1.5 * (temperature - TEMPERATURE_SETPOINT_C)
        humidity += rng.gauss(0.0, 0.3)
        return round(temperature, 2), round(min(max(humidity, 0.0), 100.0), 1)

    def diff_pressure(self, room_id: str, ts_ns: int, rng: random.Random) -> float:
        """Pa above the reference room (or the plant corridor when there is none)."""
        nominal = self.nominal_diff_pressure_pa(room_id)
        offset_s = self._offset_s(ts_ns)
        value = nominal
        for event in self.events:
            if isinstance(event, DoorOpening) and event.room == room_id:
                value = min(value, _door_pressure(event, offset_s, nominal))
        return round(value + rng.gauss(0.0, 0.3), 2)

    def nominal_diff_pressure_pa(self, room_id: str) -> float:
        spread = random.Random(f"{self.seed}:dp:{room_id}").uniform(0.0, PRESSURE_STEP_SPREAD_PA)
        return PRESSURE_STEP_PA + spread

    # --- dropouts ---------------------------------------------------------------

    def dropped_out(self, sensor_id: str, ts_ns: int) -> bool:
        offset_s = self._offset_s(ts_ns)
        for event in self.events:
            if isinstance(event, Dropout) and event.sensor == sensor_id and event.covers(offset_s):
                return True
        return self._random_window(
            f"dropout:{sensor_id}",
            ts_ns,
            self.options.random_dropouts_per_h,
            self.options.random_dropout_s,
        )

    # --- helpers ----------------------------------------------------------------

    def _offset_s(self, ts_ns: int) -> float:
        return (ts_ns - self.start_ns) / NS_PER_S

    def _rng(self, key: str, ts_ns: int) -> random.Random:
        return random.Random(f"{self.seed}:{key}:{ts_ns}")

    def _room_phase(self, room_id: str) -> float:
        return random.Random(f"{self.seed}:phase:{room_id}").uniform(0.0, 2 * math.pi)

    def _random_burst(self, room_id: str, ts_ns: int) -> bool:
        return self._random_window(
            f"burst:{room_id}",
            ts_ns,
            self.options.random_bursts_per_h,
            self.options.random_burst_s,
        )

    def _random_window(self, key: str, ts_ns: int, per_h: float, length_s: float) -> bool:
        """Whether ``ts_ns`` falls in a randomly placed window of ``length_s``.

        Time is cut into slots of ``length_s``; each slot holds a window with
        probability ``per_h * length_s / 3600``, decided by hashing the slot,
        so the answer depends on nothing but the arguments.
        """
        if per_h <= 0:
            return False
        slot = int((ts_ns - self.start_ns) // int(length_s * NS_PER_S))
        chance = min(per_h * length_s / 3600.0, 1.0)
        return random.Random(f"{self.seed}:{key}:{slot}").random() < chance


def _door_pressure(event: DoorOpening, offset_s: float, nominal: float) -> float:
    """Pressure while a door is open: a fast drop, then recovery over a few seconds."""
    if offset_s < event.start_s:
        return nominal
    end_s = event.start_s + event.duration_s
    if offset_s < end_s:
        return DOOR_OPEN_RESIDUAL_PA
    if offset_s < end_s + DOOR_RECOVERY_S:
        fraction = (offset_s - end_s) / DOOR_RECOVERY_S
        return DOOR_OPEN_RESIDUAL_PA + fraction * (nominal - DOOR_OPEN_RESIDUAL_PA)
    return nominal


def grade_of(room: Room) -> str:
    """The GMP grade, or the grade nearest an ISO class (5→A, 6→B, 7→C, 8+→D)."""
    if room.grade is not None:
        return room.grade
    assert room.iso_class is not None
    if room.iso_class <= 5:
        return "A"
    if room.iso_class <= 6:
        return "B"
    if room.iso_class <= 7:
        return "C"
    return "D"


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw: Knuth's method for small means, a rounded normal for large ones."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit = math.exp(-mean)
    k, product = 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def iso_us(ts_ns: int) -> str:
    """RFC 3339 UTC with microseconds, so that fast ticks stay strictly ordered."""
    return ns_to_datetime(ts_ns).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
