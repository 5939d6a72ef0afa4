"""The report's values: what a report is computed from, and what it says.

Frozen dataclasses only; ``model.build_report`` turns ``ReportInputs`` into a
``Report``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from envmon.alarms.events import Excursion, Transient
from envmon.calibration import CalibrationRecord
from envmon.config_load import ConfigLoad
from envmon.facility import BUILTIN_PARAMETERS, Equipment, ParameterInfo, Room, Sensor
from envmon.journal.audit_types import AuditEntry
from envmon.readings import NS_PER_S, RoomStateChange, StateInForce
from envmon.report.records import (
    AlarmRecord,
    ExtractRow,
    JournalHead,
    LimitInterval,
    LimitsLoad,
)
from envmon.report.transients import TransientSummary
from envmon.sensor_service import ServicePeriod

STATES: tuple[StateInForce, ...] = tuple(StateInForce)
"""The states in force a report's time in state lists, every one always."""


# --- inputs -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SensorStats:
    """InfluxDB aggregates of one sensor's parameter in the window."""

    room: str
    sensor: str
    parameter: str
    samples: int
    min: float
    max: float
    sum: float


@dataclass(frozen=True, slots=True)
class SensorCount:
    """Readings of one sensor in the window with a status the report counts apart:
    not judged (a fault word, out of range or out of service), or, per parameter,
    judged while the sensor's calibration was overdue."""

    room: str
    sensor: str
    samples: int
    parameter: str | None = None
    """None for unjudged readings: they count for every parameter the sensor measures."""


@dataclass(frozen=True, slots=True)
class SensorSpan:
    """Time of a sensor's first and last point in the window (any parameter of its kind)."""

    room: str
    sensor: str
    first_ns: int
    last_ns: int


@dataclass(frozen=True, slots=True)
class Silence:
    """Two consecutive points of a sensor further apart than some threshold."""

    room: str
    sensor: str
    start_ns: int
    end_ns: int


@dataclass(frozen=True, slots=True)
class AckedExcursion:
    """An excursion from the journal with the acknowledgement of its alarm."""

    excursion: Excursion
    acked_by: str | None = None
    acked_ns: int | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One downsampled chart bucket starting at ``ts_ns``."""

    ts_ns: int
    min: float
    max: float
    mean: float


@dataclass(frozen=True, slots=True)
class LimitLines:
    """The limits drawn on a chart for one room state."""

    alert_high: float | None = None
    action_high: float | None = None
    alert_low: float | None = None
    action_low: float | None = None


@dataclass(frozen=True)
class ReportInputs:
    """Everything a report is computed from; no I/O happens after this is built."""

    from_ns: int
    to_ns: int
    rooms: tuple[Room, ...]
    sensors: tuple[Sensor, ...]
    stats: tuple[SensorStats, ...] = ()
    spans: tuple[SensorSpan, ...] = ()
    silences: tuple[Silence, ...] = ()
    excursions: tuple[AckedExcursion, ...] = ()
    state_changes: tuple[RoomStateChange, ...] = ()
    gap_tolerance_intervals: float = 2.0
    batch: str | None = None
    generated_ns: int = 0
    generated_by: str = ""
    envmon_version: str = ""
    config_sha256: str = ""
    facility_sha256: str = ""
    series: Mapping[tuple[str, str], tuple[SeriesPoint, ...]] = field(default_factory=dict)
    """(room or equipment id, parameter) → chart buckets."""
    limits: Mapping[tuple[str, str, StateInForce], LimitLines] = field(default_factory=dict)
    """(room or equipment id, parameter, state) → the lines drawn."""
    equipment: tuple[Equipment, ...] = ()
    faulted: tuple[SensorCount, ...] = ()
    uncalibrated: tuple[SensorCount, ...] = ()
    calibration_records: tuple[CalibrationRecord, ...] = ()
    parameters: Mapping[str, ParameterInfo] = field(default_factory=lambda: BUILTIN_PARAMETERS)
    """Every parameter the facility knows, in its order (names, units, for labels)."""
    service_periods: tuple[ServicePeriod, ...] = ()
    """Signed out-of-service periods of the report's sensors overlapping the window."""
    alarms: tuple[AlarmRecord, ...] = ()
    """The journal's alarms of the rooms that may overlap the window."""
    limit_loads: tuple[LimitsLoad, ...] = ()
    """The facility loads in force over the window, oldest first (the first from before it);
    none: charts draw ``limits`` and there is no ``limits_in_force``."""
    config_loads: tuple[ConfigLoad, ...] = ()
    """Facility and settings loads journaled in the window."""
    audit: tuple[AuditEntry, ...] = ()
    """The journal entries of the window."""
    audit_foreign: frozenset[str] = frozenset()
    """Rooms, sensors, equipment and alarms outside the report: their entries are left out."""
    journal_head: JournalHead | None = None
    transients: tuple[Transient, ...] = ()
    """From the journal: runs beyond a limit that did not meet its rules (``transients.py``)."""


# --- outputs ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParameterSummary:
    parameter: str
    samples: int
    expected_samples: int
    completeness_pct: float | None
    min: float | None
    max: float | None
    mean: float | None
    alert_excursions: int
    action_excursions: int
    faulted_samples: int = 0
    """Readings not judged (fault word, out of range, out of service): stored, not counted
    in samples, min, max, mean or completeness."""
    uncalibrated_samples: int = 0
    """Readings among ``samples`` taken while the sensor's calibration was overdue."""
    unit: str = ""
    out_of_service_s: float = 0.0
    """Sensor-seconds out of service: the sum over the sensors measuring the parameter of
    each one's signed out-of-service time in the window (its overlapping periods once)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """``status`` is ``in_control``, ``review`` or ``not_in_control``; ``text`` one line."""

    status: str
    text: str


@dataclass(frozen=True, slots=True)
class RoomSummary:
    room: str
    name: str
    grade: str
    parameters: tuple[ParameterSummary, ...]
    time_in_state_s: tuple[tuple[StateInForce, float], ...]
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class EquipmentSummary:
    equipment: str
    name: str
    type: str
    room: str
    grade: str
    parameters: tuple[ParameterSummary, ...]
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class SensorCalibration:
    """A sensor's calibration over the window: as at its end, and when it was overdue."""

    sensor: str
    room: str
    equipment: str | None
    due: date | None
    certificate: str | None
    source: str
    state: str
    """``in_date``, ``overdue`` or ``not_set`` at the window's end."""
    overdue: tuple[tuple[int, int], ...]
    """The spans of the window in which it was overdue."""
    uncalibrated_samples: int


@dataclass(frozen=True, slots=True)
class ExcursionRow:
    excursion: Excursion
    acked_by: str | None
    acked_ns: int | None
    comment: str | None

    @property
    def acknowledged(self) -> bool:
        return self.acked_by is not None


@dataclass(frozen=True, slots=True)
class DataGap:
    """A silence of a sensor longer than the tolerance; window edges count."""

    room: str
    sensor: str
    start_ns: int
    end_ns: int
    equipment: str | None = None

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / NS_PER_S


@dataclass(frozen=True, slots=True)
class StateSpan:
    state: StateInForce
    start_ns: int
    end_ns: int


@dataclass(frozen=True, slots=True)
class Chart:
    """One room (or equipment) and parameter: downsampled series, limits per state span,
    excursions."""

    room: str
    parameter: str
    points: tuple[SeriesPoint, ...]
    limit_spans: tuple[tuple[StateSpan, LimitLines], ...]
    excursions: tuple[Excursion, ...]
    gaps: tuple[DataGap, ...] = ()
    """Data gaps of the room's (equipment's) sensors that measure this parameter."""
    equipment: str | None = None
    label: str = ""
    """``Name (unit)`` of the parameter; the parameter id when empty."""


@dataclass(frozen=True)
class Report:
    batch: str | None
    from_ns: int
    to_ns: int
    generated_ns: int
    generated_by: str
    envmon_version: str
    config_sha256: str
    facility_sha256: str
    gap_tolerance_intervals: float
    rooms: tuple[RoomSummary, ...]
    excursions: tuple[ExcursionRow, ...]
    data_gaps: tuple[DataGap, ...]
    charts: tuple[Chart, ...]
    equipment: tuple[EquipmentSummary, ...] = ()
    calibration: tuple[SensorCalibration, ...] = ()
    parameters: Mapping[str, ParameterInfo] = field(default_factory=lambda: BUILTIN_PARAMETERS)
    alarms: tuple[AlarmRecord, ...] = ()
    service_periods: tuple[ServicePeriod, ...] = ()
    limits_in_force: tuple[LimitInterval, ...] = ()
    config_changes: tuple[ConfigLoad, ...] = ()
    audit_extract: tuple[ExtractRow, ...] = ()
    journal_head: JournalHead | None = None
    transients: tuple[TransientSummary, ...] = ()

    def label(self, parameter: str) -> str:
        """``Name (unit)`` of a parameter, or its id when unknown."""
        info = self.parameters.get(parameter)
        return info.label if info is not None else parameter

    def unit(self, parameter: str) -> str:
        info = self.parameters.get(parameter)
        return info.unit if info is not None else ""
