"""The one data type that flows from ingest to alarms and storage.

Units are fixed by the contract (design.md section 2): nothing downstream of
ingest ever sees another unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final, NamedTuple


class Kind(StrEnum):
    """Sensor kind; also the InfluxDB measurement its readings go to."""

    PARTICLES = "particles"
    CLIMATE = "climate"
    PRESSURE = "pressure"
    EQUIPMENT = "equipment"
    """A sensor on a piece of equipment; it measures the parameters it lists."""


class RoomState(StrEnum):
    """Operating state of a room; Annex 1 limits differ between the two."""

    AT_REST = "at_rest"
    IN_OPERATION = "in_operation"


class StateInForce(StrEnum):
    """Which limits judge a room's readings at an instant (design.md section 4).

    The two room states, plus the two in-between ones a message never sets:
    ``clean_up`` (after a switch from in operation to at rest, for the room's
    ``clean_up_s``: the in-operation limits still apply) and ``unknown`` (no
    state known yet and ``default_state = "strictest"``: the stricter limit of
    the two states, per limit key, ``gmp.strictest_limits``).
    """

    AT_REST = "at_rest"
    IN_OPERATION = "in_operation"
    CLEAN_UP = "clean_up"
    UNKNOWN = "unknown"

    @property
    def limits_state(self) -> RoomState | None:
        """The room state whose limits apply; None for ``unknown`` (the strictest of both)."""
        if self is StateInForce.AT_REST:
            return RoomState.AT_REST
        if self is StateInForce.UNKNOWN:
            return None
        return RoomState.IN_OPERATION


PARTICLES_0_5UM: Final = "particles_0_5um"
PARTICLES_5_0UM: Final = "particles_5_0um"
TEMPERATURE: Final = "temperature"
HUMIDITY: Final = "humidity"
DIFF_PRESSURE: Final = "diff_pressure"

PARAMETERS_BY_KIND: Final[Mapping[Kind, tuple[str, ...]]] = {
    # Equipment sensors are not here: each lists its own parameters (facility file).
    Kind.PARTICLES: (PARTICLES_0_5UM, PARTICLES_5_0UM),
    Kind.CLIMATE: (TEMPERATURE, HUMIDITY),
    Kind.PRESSURE: (DIFF_PRESSURE,),
}
KIND_OF_PARAMETER: Final[Mapping[str, Kind]] = {
    p: kind for kind, params in PARAMETERS_BY_KIND.items() for p in params
}
PARAMETERS: Final[tuple[str, ...]] = tuple(KIND_OF_PARAMETER)

UNIT_OF_PARAMETER: Final[Mapping[str, str]] = {
    PARTICLES_0_5UM: "counts/m³",
    PARTICLES_5_0UM: "counts/m³",
    TEMPERATURE: "°C",
    HUMIDITY: "%RH",
    DIFF_PRESSURE: "Pa",
}

RANGE_OF_PARAMETER: Final[Mapping[str, tuple[float, float]]] = {
    PARTICLES_0_5UM: (0.0, 1e10),
    PARTICLES_5_0UM: (0.0, 1e10),
    TEMPERATURE: (-100.0, 200.0),
    HUMIDITY: (0.0, 100.0),
    DIFF_PRESSURE: (-2000.0, 2000.0),
}
"""Plausible measuring range (inclusive) of each built-in parameter: beyond it a
transmitter is broken, whatever the room does. Custom parameters declare theirs."""

# --- status words: what a reading's ``status`` says, and what follows from it ----

STATUS_OK: Final = "ok"
"""A good reading: judged against limits, counted in report statistics."""
STATUS_OUT_OF_RANGE: Final = "out_of_range"
"""A value beyond its measuring range (a broken transmitter): stored, not judged,
raises the sensor's fault alarm, excluded from statistics like a fault word."""
STATUS_OUT_OF_SERVICE: Final = "out_of_service"
"""The sensor was signed out of service: stored, not judged, raises neither a fault
nor a comm_loss alarm, excluded from statistics."""
STATUS_CALIBRATION_OVERDUE: Final = "calibration_overdue"
"""Taken after the sensor's calibration due date: still judged, counted in statistics
and, besides, as uncalibrated."""
# Any other word is a sensor fault word (``flow_fault``, ``laser_fault`` ...): the
# sensor says its reading is not to be trusted. Stored, not judged, raises the
# sensor's fault alarm, excluded from statistics. A fault word wins over
# ``out_of_range`` and ``calibration_overdue`` (the sensor knows best what broke).

RAW_SUFFIX: Final = "_raw"
"""InfluxDB keeps the values of a reading that was not judged under ``<parameter>_raw``."""

ENVMON_STATUSES: Final = frozenset({STATUS_OUT_OF_SERVICE, STATUS_CALIBRATION_OVERDUE})
"""Words only envmon stamps; a sensor sending one is read as a fault word (``values``)."""


def is_judged(status: str) -> bool:
    """Judged against limits and counted in statistics: ok or calibration overdue."""
    return status in (STATUS_OK, STATUS_CALIBRATION_OVERDUE)


def raises_fault(status: str) -> bool:
    """Raises the sensor's fault alarm: a fault word or ``out_of_range``."""
    return not is_judged(status) and status != STATUS_OUT_OF_SERVICE


def is_uncalibrated(status: str) -> bool:
    return status == STATUS_CALIBRATION_OVERDUE


NS_PER_S: Final = 1_000_000_000


class Reading(NamedTuple):
    """One sensor sample, normalised to contract units.

    ``ts_ns`` is the sample time in UTC nanoseconds since the epoch: the
    sensor's own timestamp when it sent one, else the receive time.
    ``values`` maps parameter ids (built in, or declared in the facility file)
    to values; a faulted reading may carry none. ``received_ns`` is when envmon
    received it. ``equipment`` is the equipment a sensor of kind ``equipment``
    sits on (None for room sensors). ``values`` is never changed after decoding.

    Immutable, and built and read by field name (one is built per message on
    the network thread: a NamedTuple, which is cheaper to build than a frozen
    dataclass).
    """

    ts_ns: int
    site: str
    room: str
    grade: str
    sensor: str
    kind: Kind
    values: Mapping[str, float]
    sample_volume_l: float | None = None
    status: str = STATUS_OK
    received_ns: int = 0
    equipment: str | None = None

    @property
    def ts(self) -> datetime:
        return ns_to_datetime(self.ts_ns)

    @property
    def faulted(self) -> bool:
        """Stored but never judged against limits (a fault word, out of range or service)."""
        return not is_judged(self.status)


@dataclass(frozen=True, slots=True)
class RoomStateChange:
    """A room's operating state from the ``<prefix>/<site>/<room>/state`` topic or a schedule."""

    ts_ns: int
    site: str
    room: str
    state: RoomState
    source: str = "mqtt"


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def ns_to_datetime(ts_ns: int) -> datetime:
    """Truncated to the microsecond, without float rounding."""
    return _EPOCH + timedelta(microseconds=ts_ns // 1000)


def datetime_to_ns(ts: datetime) -> int:
    """Exact to the microsecond (datetime's own resolution)."""
    if ts.tzinfo is None:
        raise ValueError("naive datetime: a timestamp must carry its time zone")
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * 1000


def isoformat_ns(ts_ns: int) -> str:
    """RFC 3339 UTC with a ``Z``; milliseconds shown only when present."""
    dt = ns_to_datetime(ts_ns)
    if ts_ns % NS_PER_S == 0:
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{(ts_ns % NS_PER_S) // 1_000_000:03d}Z"
