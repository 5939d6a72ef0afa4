"""The InfluxQL the report needs, and the parsing of its answers into model inputs.

Statistics come from InfluxDB's own aggregates (count, min, max, sum per
room and sensor): a 24-hour, 50-room report never pulls raw points. Gaps come
from ``ELAPSED()`` in a subquery filtered on the gap length, plus each
sensor's first and last point in the window for the edges.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from envmon.readings import NS_PER_S, PARAMETERS_BY_KIND, Kind
from envmon.report.influxql import InfluxQLClient, Series, quote_ident, quote_string
from envmon.report.values import SensorSpan, SensorStats, SeriesPoint, Silence

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


def presence_field(kind: Kind) -> str:
    """The field whose points mark a sensor as sending (its kind's first parameter)."""
    return PARAMETERS_BY_KIND[kind][0]


def stats_statement(kind: Kind, scope: Scope) -> str:
    columns = ", ".join(
        f"{fn}({quote_ident(p)}) AS {quote_ident(p + '__' + fn)}"
        for p in PARAMETERS_BY_KIND[kind]
        for fn in ("count", "min", "max", "sum")
    )
    return (
        f'SELECT {columns} FROM {quote_ident(kind.value)} {scope.where()} GROUP BY "room", "sensor"'
    )


def parse_stats(kind: Kind, series: Iterable[Series]) -> list[SensorStats]:
    out = []
    for s in series:
        for row in s.rows:
            for p in PARAMETERS_BY_KIND[kind]:
                count = row.get(p + "__count")
                if not count:
                    continue
                out.append(
                    SensorStats(
                        room=s.tags["room"],
                        sensor=s.tags["sensor"],
                        parameter=p,
                        samples=int(count),
                        min=float(row[p + "__min"]),
                        max=float(row[p + "__max"]),
                        sum=float(row[p + "__sum"]),
                    )
                )
    return out


def edge_statements(kind: Kind, scope: Scope) -> tuple[str, str]:
    """First and last point per sensor; separate statements so each returns its point's time."""
    field = quote_ident(presence_field(kind))
    m = quote_ident(kind.value)
    tail = f'{scope.where()} GROUP BY "room", "sensor"'
    return (f"SELECT first({field}) FROM {m} {tail}", f"SELECT last({field}) FROM {m} {tail}")


def parse_spans(first: Iterable[Series], last: Iterable[Series]) -> list[SensorSpan]:
    last_by_sensor = {
        (s.tags["room"], s.tags["sensor"]): int(s.rows[0]["time"]) for s in last if s.rows
    }
    out = []
    for s in first:
        key = (s.tags["room"], s.tags["sensor"])
        if s.rows and key in last_by_sensor:
            out.append(SensorSpan(key[0], key[1], int(s.rows[0]["time"]), last_by_sensor[key]))
    return out


def silence_statement(kind: Kind, scope: Scope, longer_than_ns: int) -> str:
    """Consecutive points of a sensor further apart than ``longer_than_ns``."""
    field = quote_ident(presence_field(kind))
    inner = (
        f'SELECT elapsed({field}, 1ns) AS "elapsed_ns" FROM {quote_ident(kind.value)} '
        f'{scope.where()} GROUP BY "room", "sensor"'
    )
    return (
        f'SELECT "elapsed_ns" FROM ({inner}) WHERE "elapsed_ns" > {longer_than_ns} '
        'GROUP BY "room", "sensor"'
    )


def parse_silences(series: Iterable[Series]) -> list[Silence]:
    out = []
    for s in series:
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


def series_statement(kind: Kind, scope: Scope, bucket_s: int) -> str:
    columns = ", ".join(
        f"{fn}({quote_ident(p)}) AS {quote_ident(p + '__' + fn)}"
        for p in PARAMETERS_BY_KIND[kind]
        for fn in ("min", "max", "mean")
    )
    return (
        f"SELECT {columns} FROM {quote_ident(kind.value)} {scope.where()} "
        f'GROUP BY time({bucket_s}s), "room" fill(none)'
    )


def parse_series(
    kind: Kind, series: Iterable[Series]
) -> dict[tuple[str, str], tuple[SeriesPoint, ...]]:
    out: dict[tuple[str, str], tuple[SeriesPoint, ...]] = {}
    for s in series:
        for p in PARAMETERS_BY_KIND[kind]:
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
                out[(s.tags["room"], p)] = points
    return out


@dataclass(frozen=True)
class Measured:
    """What InfluxDB says about the scope."""

    stats: tuple[SensorStats, ...]
    spans: tuple[SensorSpan, ...]
    silences: tuple[Silence, ...]
    series: dict[tuple[str, str], tuple[SeriesPoint, ...]]


def fetch(
    client: InfluxQLClient,
    scope: Scope,
    silence_threshold_ns: dict[Kind, int],
    with_series: bool,
) -> Measured:
    """All statements in one request; ``silence_threshold_ns`` lists the kinds to check for gaps."""
    statements: list[str] = []
    plan: list[tuple[str, Kind]] = []
    for kind in Kind:
        statements.append(stats_statement(kind, scope))
        plan.append(("stats", kind))
        first, last = edge_statements(kind, scope)
        statements += [first, last]
        plan += [("first", kind), ("last", kind)]
        if kind in silence_threshold_ns:
            statements.append(silence_statement(kind, scope, silence_threshold_ns[kind]))
            plan.append(("silence", kind))
        if with_series:
            bucket = chart_bucket_s(scope.from_ns, scope.to_ns)
            statements.append(series_statement(kind, scope, bucket))
            plan.append(("series", kind))
    results = client.query(statements)
    by_step = {step: res for step, res in zip(plan, results, strict=True)}
    stats: list[SensorStats] = []
    spans: list[SensorSpan] = []
    silences: list[Silence] = []
    series: dict[tuple[str, str], tuple[SeriesPoint, ...]] = {}
    for kind in Kind:
        stats += parse_stats(kind, by_step[("stats", kind)])
        spans += parse_spans(by_step[("first", kind)], by_step[("last", kind)])
        silences += parse_silences(by_step.get(("silence", kind), []))
        series.update(parse_series(kind, by_step.get(("series", kind), [])))
    return Measured(tuple(stats), tuple(spans), tuple(silences), series)
