"""InfluxQL statements and the parsing of their answers, from plain values."""

from __future__ import annotations

from envmon.readings import NS_PER_S, Kind
from envmon.report.influxql import Series, quote_ident, quote_string
from envmon.report.model import SensorCount, SensorSpan, SensorStats, SeriesPoint, Silence
from envmon.report.queries import (
    Measurement,
    Scope,
    chart_bucket_s,
    edge_statements,
    faulted_statement,
    parse_faulted,
    parse_series,
    parse_silences,
    parse_spans,
    parse_stats,
    parse_uncalibrated,
    room_measurement,
    series_statement,
    silence_statement,
    stats_statement,
    uncalibrated_statement,
)

T0 = 1_800_000_000 * NS_PER_S
SCOPE = Scope("site1", ("FILL-A", "O'Brien"), T0, T0 + 3600 * NS_PER_S)
CLIMATE = room_measurement(Kind.CLIMATE, None)
PRESSURE = room_measurement(Kind.PRESSURE, None)
PARTICLES = room_measurement(Kind.PARTICLES, None)
EQUIPMENT = Measurement(
    "equipment", ("co2", "temperature"), None, {"INC-1": "co2", "FRZ-1": "temperature"},
    series_by="equipment",
)  # fmt: skip


class TestQuoting:
    def test_identifiers_and_strings(self) -> None:
        """Quotes and backslashes inside names and values are escaped."""
        assert quote_ident('a"b') == '"a\\"b"'
        assert quote_string("O'Brien") == "'O\\'Brien'"
        assert quote_string("a\\b") == "'a\\\\b'"


class TestStatements:
    def test_where_clause(self) -> None:
        """Site, each room and the half-open window in nanoseconds."""
        assert SCOPE.where() == (
            "WHERE \"site\" = 'site1' AND (\"room\" = 'FILL-A' OR \"room\" = 'O\\'Brien') "
            f"AND time >= {T0} AND time < {T0 + 3600 * NS_PER_S}"
        )

    def test_stats_aggregate_in_influxdb(self) -> None:
        """Statistics are InfluxQL aggregates grouped by room and sensor, never raw points."""
        q = stats_statement(CLIMATE, SCOPE)
        assert q.startswith('SELECT count("temperature") AS "temperature__count", ')
        assert 'sum("humidity") AS "humidity__sum"' in q
        assert q.endswith('GROUP BY "room", "sensor"')

    def test_edges_are_two_statements(self) -> None:
        """first() and last() are separate so each returns its point's own time."""
        first, last = edge_statements(PRESSURE, "diff_pressure", SCOPE)
        assert first.startswith('SELECT first("diff_pressure") FROM "pressure" WHERE')
        assert last.startswith('SELECT last("diff_pressure") FROM "pressure" WHERE')

    def test_silence_uses_elapsed_subquery(self) -> None:
        """Gaps come from ELAPSED() in a subquery filtered on the threshold."""
        q = silence_statement(PARTICLES, "particles_0_5um", SCOPE, 120 * NS_PER_S)
        assert 'FROM (SELECT elapsed("particles_0_5um", 1ns) AS "elapsed_ns" FROM' in q
        assert f'WHERE "elapsed_ns" > {120 * NS_PER_S} GROUP BY "room", "sensor"' in q

    def test_series_buckets(self) -> None:
        """Chart series are min/max/mean per time bucket per room, empty buckets left out."""
        q = series_statement(PRESSURE, SCOPE, 20)
        assert 'mean("diff_pressure") AS "diff_pressure__mean"' in q
        assert q.endswith('GROUP BY time(20s), "room" fill(none)')

    def test_faulted_and_uncalibrated_are_counted_apart(self) -> None:
        """Readings with a status are counted by sensor: not judged, and overdue per field."""
        q = faulted_statement(CLIMATE, SCOPE)
        assert q.startswith('SELECT count("status") AS "n" FROM "climate" WHERE')
        assert q.endswith('AND "status" != \'calibration_overdue\' GROUP BY "room", "sensor"')
        q = uncalibrated_statement(CLIMATE, SCOPE)
        assert 'count("humidity") AS "humidity__count"' in q
        assert "AND \"status\" = 'calibration_overdue'" in q

    def test_equipment_series_by_equipment(self) -> None:
        """Equipment charts group by the equipment tag."""
        q = series_statement(EQUIPMENT, SCOPE, 20)
        assert q.endswith('GROUP BY time(20s), "equipment" fill(none)')
        assert EQUIPMENT.presence_fields == ("co2", "temperature")

    def test_bucket_width(self) -> None:
        """About 300 buckets of a round width: 20 s for an hour, 5 min for a day."""
        assert chart_bucket_s(T0, T0 + 3600 * NS_PER_S) == 20
        assert chart_bucket_s(T0, T0 + 86400 * NS_PER_S) == 300
        assert chart_bucket_s(T0, T0 + 60 * NS_PER_S) == 10
        assert chart_bucket_s(T0, T0 + 365 * 86400 * NS_PER_S) == 86400


def _series(tags: dict[str, str], *rows: dict[str, object]) -> Series:
    return Series("m", tags, tuple(rows))


class TestParsing:
    def test_stats(self) -> None:
        """One SensorStats per sensor and parameter with data; empty fields are skipped."""
        row = {
            "time": 0, "particles_0_5um__count": 3, "particles_0_5um__min": 1.0,
            "particles_0_5um__max": 5, "particles_0_5um__sum": 9.0,
            "particles_5_0um__count": 0, "particles_5_0um__min": None,
            "particles_5_0um__max": None, "particles_5_0um__sum": None,
        }  # fmt: skip
        stats = parse_stats(PARTICLES, [_series({"room": "R", "sensor": "S"}, row)])
        assert stats == [SensorStats("R", "S", "particles_0_5um", 3, 1.0, 5.0, 9.0)]

    def test_spans_need_first_and_last(self) -> None:
        """A sensor's span pairs its first and last point times."""
        first = [_series({"room": "R", "sensor": "S"}, {"time": 10, "first": 1.0})]
        last = [_series({"room": "R", "sensor": "S"}, {"time": 90, "last": 2.0})]
        assert parse_spans(PRESSURE, "diff_pressure", first, last) == [SensorSpan("R", "S", 10, 90)]
        assert parse_spans(PRESSURE, "diff_pressure", first, []) == []

    def test_equipment_sensor_is_present_by_its_own_field(self) -> None:
        """An equipment sensor's span comes from its first parameter's field only."""
        first = [_series({"room": "R", "sensor": "INC-1"}, {"time": 10, "first": 1.0}),
                 _series({"room": "R", "sensor": "FRZ-1"}, {"time": 20, "first": 1.0})]  # fmt: skip
        last = [_series({"room": "R", "sensor": "INC-1"}, {"time": 90, "last": 2.0}),
                _series({"room": "R", "sensor": "FRZ-1"}, {"time": 80, "last": 2.0})]  # fmt: skip
        assert parse_spans(EQUIPMENT, "co2", first, last) == [SensorSpan("R", "INC-1", 10, 90)]

    def test_status_counts(self) -> None:
        """Faulted counts per sensor; uncalibrated per sensor and parameter with data."""
        assert parse_faulted([_series({"room": "R", "sensor": "S"}, {"time": 0, "n": 4})]) == [
            SensorCount("R", "S", 4)
        ]
        row = {"time": 0, "temperature__count": 3, "humidity__count": 0}
        assert parse_uncalibrated(CLIMATE, [_series({"room": "R", "sensor": "S"}, row)]) == [
            SensorCount("R", "S", 3, "temperature")
        ]

    def test_silences(self) -> None:
        """A silence ends at the row's time and starts elapsed_ns before it."""
        s = [_series({"room": "R", "sensor": "S"}, {"time": 500, "elapsed_ns": 300})]
        assert parse_silences(PARTICLES, "particles_0_5um", s) == [Silence("R", "S", 200, 500)]

    def test_series(self) -> None:
        """Chart points per room and parameter; rows without a mean are left out."""
        rows = (
            {"time": 0, "diff_pressure__min": 1.0, "diff_pressure__max": 3.0,
             "diff_pressure__mean": 2.0},
            {"time": 20, "diff_pressure__min": None, "diff_pressure__max": None,
             "diff_pressure__mean": None},
        )  # fmt: skip
        out = parse_series(PRESSURE, [_series({"room": "R"}, *rows)])
        assert out == {("R", "diff_pressure"): (SeriesPoint(0, 1.0, 3.0, 2.0),)}
