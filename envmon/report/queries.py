"""The InfluxQL the report needs, and the parsing of its answers into model inputs.

Statistics come from InfluxDB's own aggregates (count, min, max, sum per
room and sensor): a 24-hour, 50-room report never pulls raw points. Gaps come
from ``ELAPSED()`` in a subquery filtered on the gap length, plus each
sensor's first and last point in the window for the edges. Readings with a
``status`` are counted apart: not judged (their values are under
``<parameter>_raw``, outside every aggregate here), or judged while overdue
for calibration.

Each measurement is a ``Measurement``: the three room kinds with their
contract fields, and ``equipment`` with the parameters its sensors in the
scope measure; a sensor's presence (first, last, silences) is its first
parameter's field.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from envmon.readings import NS_PER_S, PARAMETERS_BY_KIND, STATUS_CALIBRATION_OVERDUE, Kind
from envmon.report.influxql import InfluxQLClient, Series, quote_ident, quote_string
from envmon.report.values import SensorCount, SensorSpan, SensorStats, SeriesPoint, Silence

CHART_BUCKETS_TARGET = 300
_NICE_BUCKETS_S = (10, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)


@dataclass(frozen=True, slots=True)
class Scope:
    """What a report covers: a site's rooms over [from, to)."""

    site: str
    rooms: tuple[str, ...]
    from_ns: int
    to_ns: int

    def where(self) -> str:
        rooms = " OR ".join(f'"room" = {quote_string(r)}' for r in self.rooms)
        return (
            f'WHERE "site" = {quote_string(self.site)} AND ({rooms}) '
            f"AND time >= {self.from_ns} AND time < {self.to_ns}"
        )


@dataclass(frozen=True, slots=True)
class Measurement:
    """One measurement to query: its fields, and the field each sensor is present by.

    ``presence`` maps a sensor to its presence field; sensors not in it use
    ``fields[0]`` (every sensor of a room kind). ``silence_ns`` is the
    shortest gap any of its sensors could have, None for no gap query.
    ``series_by`` is the tag charts are grouped by (``room``, ``equipment``).
    """

    name: str
    fields: tuple[str, ...]
    silence_ns: int | None = None
    presence: Mapping[str, str] = field(default_factory=dict)
    series_by: str = "room"

    @property
    def presence_fields(self) -> tuple[str, ...]:
        fields = [self.fields[0]] if not self.presence else []
        fields += [f for f in self.fields if f in self.presence.values() and f not in fields]
        return tuple(fields)

    def present_by(self, sensor: str, field_name: str) -> bool:
        return self.presence.get(sensor, self.fields[0]) == field_name


def room_measurement(kind: Kind, silence_ns: int | None) -> Measurement:
    return Measurement(kind.value, PARAMETERS_BY_KIND[kind], silence_ns)


def presence_field(kind: Kind) -> str:
    """The field whose points mark a room sensor as sending (its kind's first parameter)."""
    return PARAMETERS_BY_KIND[kind][0]


def _aggregates(fields: Iterable[str], functions: Iterable[str]) -> str:
    functions = tuple(functions)
    return ", ".join(
        f"{fn}({quote_ident(p)}) AS {quote_ident(p + '__' + fn)}"
        for p in fields
        for fn in functions
    )


def stats_statement(m: Measurement, scope: Scope) -> str:
    columns = _aggregates(m.fields, ("count", "min", "max", "sum"))
    return f'SELECT {columns} FROM {quote_ident(m.name)} {scope.where()} GROUP BY "room", "sensor"'


def _counted(
    m: Measurement, series: Iterable[Series]
) -> Iterator[tuple[Series, Mapping[str, Any], str, int]]:
    """Each series, row and parameter with a non-zero ``<parameter>__count`` column,
    and that count."""
    for s in series:
        for row in s.rows:
            for p in m.fields:
                count = row.get(p + "__count")
                if count:
                    yield s, row, p, int(count)


def parse_stats(m: Measurement, series: Iterable[Series]) -> list[SensorStats]:
    return [
        SensorStats(
            room=s.tags["room"],
            sensor=s.tags["sensor"],
            parameter=p,
            samples=count,
            min=float(row[p + "__min"]),
            max=float(row[p + "__max"]),
            sum=float(row[p + "__sum"]),
        )
        for s, row, p, count in _counted(m, series)
    ]


def faulted_statement(m: Measurement, scope: Scope) -> str:
    """Readings per sensor whose status is neither absent (ok) nor calibration_overdue."""
    overdue = quote_string(STATUS_CALIBRATION_OVERDUE)
    return (
        f'SELECT count("status") AS "n" FROM {quote_ident(m.name)} {scope.where()} '
        f'AND "status" != {overdue} GROUP BY "room", "sensor"'
    )


def parse_faulted(series: Iterable[Series]) -> list[SensorCount]:
    return [
        SensorCount(s.tags["room"], s.tags["sensor"], int(row["n"]))
        for s in series
        for row in s.rows
        if row.get("n")
    ]


def uncalibrated_statement(m: Measurement, scope: Scope) -> str:
    """Judged readings per sensor and parameter taken while overdue for calibration."""
    columns = _aggregates(m.fields, ("count",))
    overdue = quote_string(STATUS_CALIBRATION_OVERDUE)
    return (
        f"SELECT {columns} FROM {quote_ident(m.name)} {scope.where()} "
        f'AND "status" = {overdue} GROUP BY "room", "sensor"'
    )


def parse_uncalibrated(m: Measurement, series: Iterable[Series]) -> list[SensorCount]:
    return [
        SensorCount(s.tags["room"], s.tags["sensor"], count, p)
        for s, _row, p, count in _counted(m, series)
    ]


def edge_statements(m: Measurement, field_name: str, scope: Scope) -> tuple[str, str]:
    """First and last point per sensor; separate statements so each returns its point's time."""
    f = quote_ident(field_name)
    tail = f'{scope.where()} GROUP BY "room", "sensor"'
    name = quote_ident(m.name)
    return (f"SELECT first({f}) FROM {name} {tail}", f"SELECT last({f}) FROM {name} {tail}")


def parse_spans(
    m: Measurement, field_name: str, first: Iterable[Series], last: Iterable[Series]
) -> list[SensorSpan]:
    last_by_sensor = {
        (s.tags["room"], s.tags["sensor"]): int(s.rows[0]["time"]) for s in last if s.rows
    }
    out = []
    for s in first:
        key = (s.tags["room"], s.tags["sensor"])
        if s.rows and key in last_by_sensor and m.present_by(key[1], field_name):
            out.append(SensorSpan(key[0], key[1], int(s.rows[0]["time"]), last_by_sensor[key]))
    return out


def silence_statement(m: Measurement, field_name: str, scope: Scope, longer_than_ns: int) -> str:
    """Consecutive points of a sensor further apart than ``longer_than_ns``."""
    inner = (
        f'SELECT elapsed({quote_ident(field_name)}, 1ns) AS "elapsed_ns" '
        f'FROM {quote_ident(m.name)} {scope.where()} GROUP BY "room", "sensor"'
    )
    return (
        f'SELECT "elapsed_ns" FROM ({inner}) WHERE "elapsed_ns" > {longer_than_ns} '
        'GROUP BY "room", "sensor"'
    )


def parse_silences(m: Measurement, field_name: str, series: Iterable[Series]) -> list[Silence]:
    out = []
    for s in series:
        if not m.present_by(s.tags["sensor"], field_name):
            continue
        for row in s.rows:
            end_ns = int(row["time"])
            out.append(
                Silence(s.tags["room"], s.tags["sensor"], end_ns - int(row["elapsed_ns"]), end_ns)
            )
    return out


def chart_bucket_s(from_ns: int, to_ns: int) -> int:
    """A round bucket width giving at most about ``CHART_BUCKETS_TARGET`` points."""
    wanted_s = (to_ns - from_ns) / NS_PER_S / CHART_BUCKETS_TARGET
    return next((b for b in _NICE_BUCKETS_S if b >= wanted_s), 86400)


def series_statement(m: Measurement, scope: Scope, bucket_s: int) -> str:
    columns = _aggregates(m.fields, ("min", "max", "mean"))
    return (
        f"SELECT {columns} FROM {quote_ident(m.name)} {scope.where()} "
        f"GROUP BY time({bucket_s}s), {quote_ident(m.series_by)} fill(none)"
    )


def parse_series(
    m: Measurement, series: Iterable[Series]
) -> dict[tuple[str, str], tuple[SeriesPoint, ...]]:
    """(room or equipment id, parameter) → buckets."""
    out: dict[tuple[str, str], tuple[SeriesPoint, ...]] = {}
    for s in series:
        for p in m.fields:
            points = tuple(
                SeriesPoint(
                    int(row["time"]),
                    float(row[p + "__min"]),
                    float(row[p + "__max"]),
                    float(row[p + "__mean"]),
                )
                for row in s.rows
                if row.get(p + "__mean") is not None
            )
            if points:
                out[(s.tags[m.series_by], p)] = points
    return out


@dataclass(frozen=True)
class Measured:
    """What InfluxDB says about the scope."""

    stats: tuple[SensorStats, ...]
    spans: tuple[SensorSpan, ...]
    silences: tuple[Silence, ...]
    series: dict[tuple[str, str], tuple[SeriesPoint, ...]]
    faulted: tuple[SensorCount, ...] = ()
    uncalibrated: tuple[SensorCount, ...] = ()


def fetch(
    client: InfluxQLClient,
    scope: Scope,
    measurements: Iterable[Measurement],
    with_series: bool,
) -> Measured:
    """All statements in one request, for each measurement given."""
    statements: list[str] = []
    plan: list[tuple[str, str, str]] = []

    def add(step: str, m: Measurement, statement: str, field_name: str = "") -> None:
        statements.append(statement)
        plan.append((step, m.name, field_name))

    chosen = [m for m in measurements if m.fields]
    for m in chosen:
        add("stats", m, stats_statement(m, scope))
        add("faulted", m, faulted_statement(m, scope))
        add("uncalibrated", m, uncalibrated_statement(m, scope))
        for f in m.presence_fields:
            first, last = edge_statements(m, f, scope)
            add("first", m, first, f)
            add("last", m, last, f)
            if m.silence_ns is not None:
                add("silence", m, silence_statement(m, f, scope, m.silence_ns), f)
        if with_series:
            add("series", m, series_statement(m, scope, chart_bucket_s(scope.from_ns, scope.to_ns)))
    results = client.query(statements)
    by_step = {step: res for step, res in zip(plan, results, strict=True)}
    stats: list[SensorStats] = []
    spans: list[SensorSpan] = []
    silences: list[Silence] = []
    faulted: list[SensorCount] = []
    uncalibrated: list[SensorCount] = []
    series: dict[tuple[str, str], tuple[SeriesPoint, ...]] = {}
    for m in chosen:
        stats += parse_stats(m, by_step[("stats", m.name, "")])
        faulted += parse_faulted(by_step[("faulted", m.name, "")])
        uncalibrated += parse_uncalibrated(m, by_step[("uncalibrated", m.name, "")])
        for f in m.presence_fields:
            firsts, lasts = by_step[("first", m.name, f)], by_step[("last", m.name, f)]
            spans += parse_spans(m, f, firsts, lasts)
            silences += parse_silences(m, f, by_step.get(("silence", m.name, f), []))
        series.update(parse_series(m, by_step.get(("series", m.name, ""), [])))
    return Measured(
        tuple(stats), tuple(spans), tuple(silences), series, tuple(faulted), tuple(uncalibrated)
    )
