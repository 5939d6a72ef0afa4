"""The chart's data steps: each bucket drawn over its own width, and only there."""

from __future__ import annotations

from envmon.report.charts import bucket_steps, chart_png
from envmon.report.values import Chart, SeriesPoint

S = 1_000_000_000
T0 = 1_796_669_370 * S  # a multiple of 10 s, as InfluxDB's GROUP BY time(10s) starts buckets


def point(i: int) -> SeriesPoint:
    """The bucket starting ``10 * i`` s after T0."""
    return SeriesPoint(T0 + 10 * i * S, float(i), float(i) + 1, float(i) + 0.5)


class TestBucketSteps:
    def test_the_last_bucket_is_closed_at_its_end(self) -> None:
        """Without the end vertex a post-step would not draw the last bucket at all."""
        runs = bucket_steps([point(0), point(1)], 10 * S, T0 + 60 * S)
        assert runs == [
            [(T0, 0.0, 1.0, 0.5), (T0 + 10 * S, 1.0, 2.0, 1.5), (T0 + 20 * S, 1.0, 2.0, 1.5)]
        ]

    def test_the_window_end_cuts_the_last_bucket(self) -> None:
        """A window ending inside a bucket: the step ends with the window."""
        to_ns = T0 + 15 * S
        runs = bucket_steps([point(0), point(1)], 10 * S, to_ns)
        assert runs[-1][-1][0] == to_ns

    def test_a_bucket_without_data_breaks_the_steps(self) -> None:
        """InfluxDB leaves an empty bucket out: the bucket before it is not carried across."""
        runs = bucket_steps([point(0), point(1), point(3)], 10 * S, T0 + 60 * S)
        assert [[v[0] for v in run] for run in runs] == [
            [T0, T0 + 10 * S, T0 + 20 * S],
            [T0 + 30 * S, T0 + 40 * S],
        ]

    def test_no_points_no_steps(self) -> None:
        assert bucket_steps([], 10 * S, T0 + 60 * S) == []


class TestChartPng:
    def test_a_chart_with_a_gap_and_one_without_data_render(self) -> None:
        """Both draw without error and give a PNG."""
        window = (T0 + 9 * S, T0 + 69 * S)
        with_gap = Chart("FILL-A", "temperature", (point(0), point(1), point(4)), (), ())
        empty = Chart("FILL-A", "humidity", (), (), ())
        for chart in (with_gap, empty):
            assert chart_png(chart, *window).startswith(b"\x89PNG")
