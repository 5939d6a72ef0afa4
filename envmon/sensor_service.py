"""A sensor's service state: in service, or out of service by signature.

An engineer's signed ``envmon out-of-service SENSOR [--until T]`` starts a
period; it ends at ``until`` or at a signed ``envmon in-service``, whichever
comes first. Meanwhile the sensor's readings are stored with status
``out_of_service`` and not judged, and its silence raises no ``comm_loss``.
The journal keeps the periods (``Journal.service_periods``); this module
answers questions about them, purely.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from envmon.readings import NS_PER_S
from envmon.signing.signature import Signature


@dataclass(frozen=True, slots=True)
class ServicePeriod:
    """One out-of-service period of one sensor, ``[from_ns, end_ns)``."""

    sensor: str
    from_ns: int
    """When the service applied the signed request."""
    until_ns: int | None
    """The end asked for (``--until``); None: until returned to service."""
    signature: Signature
    returned_ns: int | None = None
    """When a signed ``in-service`` ended it early; None while it lasts."""
    return_signature: Signature | None = None

    @property
    def end_ns(self) -> int | None:
        """The first instant back in service; None while open-ended."""
        ends = [t for t in (self.until_ns, self.returned_ns) if t is not None]
        return min(ends) if ends else None

    def covers(self, ts_ns: int) -> bool:
        end = self.end_ns
        return self.from_ns <= ts_ns and (end is None or ts_ns < end)

    def overlap_ns(self, from_ns: int, to_ns: int) -> int:
        """How much of ``[from_ns, to_ns)`` this period covers."""
        end = self.end_ns if self.end_ns is not None else to_ns
        return max(0, min(end, to_ns) - max(self.from_ns, from_ns))


class ServiceStates:
    """Every sensor's periods; immutable, so one thread can hand it to others."""

    __slots__ = ("_by_sensor",)

    def __init__(self, periods: Iterable[ServicePeriod] = ()) -> None:
        by_sensor: dict[str, list[ServicePeriod]] = {}
        for period in sorted(periods, key=lambda p: p.from_ns):
            by_sensor.setdefault(period.sensor, []).append(period)
        self._by_sensor = {sensor: tuple(ps) for sensor, ps in by_sensor.items()}

    def __bool__(self) -> bool:
        return bool(self._by_sensor)

    def has_periods(self, sensor: str) -> bool:
        return sensor in self._by_sensor

    def periods(self, sensor: str) -> tuple[ServicePeriod, ...]:
        return self._by_sensor.get(sensor, ())

    def period_at(self, sensor: str, ts_ns: int) -> ServicePeriod | None:
        """The period covering ``ts_ns``, if the sensor was out of service then."""
        for period in reversed(self._by_sensor.get(sensor, ())):
            if period.covers(ts_ns):
                return period
        return None

    def out_of_service(self, sensor: str, ts_ns: int) -> bool:
        return self.period_at(sensor, ts_ns) is not None

    def returned_ns(self, sensor: str, now_ns: int) -> int | None:
        """When the sensor last came back into service by ``now_ns``; None if never."""
        ends = [
            end
            for p in self._by_sensor.get(sensor, ())
            if (end := p.end_ns) is not None and end <= now_ns
        ]
        return max(ends) if ends else None

    def out_of_service_s(self, sensor: str, from_ns: int, to_ns: int) -> float:
        """Seconds of ``[from_ns, to_ns)`` the sensor was out of service."""
        spans = sorted(
            (max(p.from_ns, from_ns), min(p.end_ns or to_ns, to_ns))
            for p in self._by_sensor.get(sensor, ())
        )
        total, reach = 0, from_ns
        for start, end in spans:  # periods may overlap: count each instant once
            start = max(start, reach)
            if end > start:
                total += end - start
                reach = end
        return total / NS_PER_S
