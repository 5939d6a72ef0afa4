"""Sensor calibration: the state at any time, and the spans it was overdue. Pure.

A sensor's due date and certificate come from the facility file
(``calibration_due``, ``certificate``), overridden by signed calibration
records (``envmon calibration record SENSOR --due DATE --certificate REF``):
at time t the record of that sensor signed latest at or before t is in force,
else the file's entry. Times are event times (a reading's timestamp), so a
replayed stream is stamped as it was live.

A due date is a calendar date in UTC: the calibration is valid through that
whole day, and the sensor is **overdue** from 00:00 UTC the day after. Readings
taken while overdue are stamped ``calibration_overdue`` at ingest, still
judged, and the alarm engine raises one ``calibration`` alarm per sensor until
a reading comes in date again (a new record).

Reminders before the due date are in ``reminders.py``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Final

from envmon.facility import Sensor
from envmon.readings import NS_PER_S, datetime_to_ns, isoformat_ns

NS_PER_DAY: Final = 86_400 * NS_PER_S
_NEVER: Final = 2**63 - 1
SOURCE_FILE: Final = "facility file"


@dataclass(frozen=True, slots=True)
class CalibrationRecord:
    """A signed calibration record: in force for its sensor from ``signed_ns`` on
    (when the engineer signed it, not when the service applied it)."""

    sensor: str
    due: date
    certificate: str
    signed_ns: int
    signed_by: str = ""
    """The signer's user name (empty in records made by hand, e.g. in tests)."""

    @property
    def source(self) -> str:
        """Where a state from this record comes from, in words."""
        by = f" by {self.signed_by}" if self.signed_by else ""
        return f"record signed {isoformat_ns(self.signed_ns)}{by}"


class CalibrationStatus(StrEnum):
    NOT_SET = "not_set"
    """Neither the file nor a record gives a due date: never overdue."""
    IN_DATE = "in_date"
    """On or before the due date."""
    OVERDUE = "overdue"
    """After the due date: readings are stamped ``calibration_overdue``."""


@dataclass(frozen=True, slots=True)
class CalibrationState:
    """A sensor's calibration at one time, and where it comes from."""

    sensor: str
    due: date | None
    certificate: str | None
    source: str
    status: CalibrationStatus
    overdue_from_ns: int | None
    """00:00 UTC the day after ``due``; None without a due date."""
    record: CalibrationRecord | None = None
    """The signed record in force; None when the facility file's entry is."""

    def days_left(self, at_ns: int) -> int | None:
        """Whole days from ``at_ns`` to the end of the due date (negative: overdue)."""
        if self.overdue_from_ns is None:
            return None
        return (self.overdue_from_ns - at_ns) // NS_PER_DAY


def day_start_ns(day: date) -> int:
    """00:00 UTC of ``day``."""
    return datetime_to_ns(datetime(day.year, day.month, day.day, tzinfo=UTC))


def overdue_from_ns(due: date) -> int:
    """When a sensor due on ``due`` becomes overdue: 00:00 UTC the day after."""
    return day_start_ns(due + timedelta(days=1))


def _records_of(sensor: str, records: Iterable[CalibrationRecord]) -> list[CalibrationRecord]:
    """The sensor's records by signing time; a later one in the list wins a tie."""
    mine = [r for r in records if r.sensor == sensor]
    return sorted(mine, key=lambda r: r.signed_ns)  # stable: list order breaks ties


def calibration_state(
    sensor: str,
    file_due: date | None,
    file_certificate: str | None,
    records: Iterable[CalibrationRecord],
    at_ns: int,
) -> CalibrationState:
    """The sensor's calibration at ``at_ns``: the latest record signed by then, else the file."""
    due, certificate = file_due, file_certificate
    in_force: CalibrationRecord | None = None
    for record in _records_of(sensor, records):
        if record.signed_ns > at_ns:
            break
        due, certificate, in_force = record.due, record.certificate, record
    source = SOURCE_FILE if in_force is None else in_force.source
    if due is None:
        return CalibrationState(
            sensor, None, certificate, source, CalibrationStatus.NOT_SET, None, in_force
        )
    overdue_ns = overdue_from_ns(due)
    status = CalibrationStatus.OVERDUE if at_ns >= overdue_ns else CalibrationStatus.IN_DATE
    return CalibrationState(sensor, due, certificate, source, status, overdue_ns, in_force)


def state_of(sensor: Sensor, records: Iterable[CalibrationRecord], at_ns: int) -> CalibrationState:
    """``calibration_state`` of a facility sensor."""
    return calibration_state(sensor.id, sensor.calibration_due, sensor.certificate, records, at_ns)


class OverdueTimeline:
    """When one sensor is overdue, for stamping readings at ingest (once per reading).

    Built once per facility load and record; ``overdue_at`` is one comparison
    of integers for a reading after the latest record (the usual case).
    """

    __slots__ = ("_overdue_from", "_starts", "first_overdue_ns", "last_overdue_from", "last_start")

    def __init__(
        self, file_due: date | None, records: Sequence[CalibrationRecord], sensor: str
    ) -> None:
        mine = _records_of(sensor, records)
        starts = [-_NEVER] + [r.signed_ns for r in mine]
        dues = [file_due] + [r.due for r in mine]
        self._starts = starts
        self._overdue_from = [overdue_from_ns(d) if d is not None else _NEVER for d in dues]
        self.last_start = starts[-1]
        self.last_overdue_from = self._overdue_from[-1]
        self.first_overdue_ns = min(self._overdue_from)
        """No time before this is overdue, whichever entry is in force."""

    def overdue_at(self, ts_ns: int) -> bool:
        if ts_ns >= self.last_start:
            return ts_ns >= self.last_overdue_from
        i = bisect_right(self._starts, ts_ns) - 1
        return ts_ns >= self._overdue_from[i]


def overdue_spans(
    sensor: Sensor, records: Sequence[CalibrationRecord], from_ns: int, to_ns: int
) -> list[tuple[int, int]]:
    """The parts of [from, to) in which the sensor was overdue, in order."""
    mine = _records_of(sensor.id, records)
    cuts = [from_ns, *(r.signed_ns for r in mine if from_ns < r.signed_ns < to_ns), to_ns]
    spans: list[tuple[int, int]] = []
    for start, end in pairwise(cuts):
        overdue = state_of(sensor, records, start).overdue_from_ns
        if overdue is None or overdue >= end:
            continue
        begin = max(start, overdue)
        if spans and spans[-1][1] == begin:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((begin, end))
    return spans
