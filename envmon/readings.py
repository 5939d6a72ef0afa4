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


class RoomState(StrEnum):
    """Operating state of a room; Annex 1 limits differ between the two."""

    AT_REST = "at_rest"
    IN_OPERATION = "in_operation"


PARTICLES_0_5UM: Final = "particles_0_5um"
PARTICLES_5_0UM: Final = "particles_5_0um"
TEMPERATURE: Final = "temperature"
HUMIDITY: Final = "humidity"
DIFF_PRESSURE: Final = "diff_pressure"

PARAMETERS_BY_KIND: Final[Mapping[Kind, tuple[str, ...]]] = {
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

STATUS_OK: Final = "ok"
STATUS_OUT_OF_SERVICE: Final = "out_of_service"
"""The sensor was signed out of service: stored, not judged, raises neither a fault
nor a comm_loss alarm, excluded from statistics."""
NS_PER_S: Final = 1_000_000_000


class Reading(NamedTuple):
    """One sensor sample, normalised to contract units.

    ``ts_ns`` is the sample time in UTC nanoseconds since the epoch: the
    sensor's own timestamp when it sent one, else the receive time.
    ``values`` maps parameter ids (``PARAMETERS``) to values; a faulted
    reading may carry none. ``received_ns`` is when envmon received it.

    A NamedTuple, not a frozen dataclass: one is built per message on the
    network thread, in a fifth of the time (bench/README.md). It is as
    immutable; ``values`` is never changed after decoding.
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

    @property
    def ts(self) -> datetime:
        return ns_to_datetime(self.ts_ns)

    @property
    def faulted(self) -> bool:
        """A sensor that reports a fault is stored but never judged against limits."""
        return self.status != STATUS_OK


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
