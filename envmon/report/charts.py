"""One chart per room and parameter: the data band, the limits, the excursions.

The limit lines are steps: the limits in force over the window, as the
journal's configuration loads and the room states set them (``limits.py``).

matplotlib figures drawn with Agg directly (no pyplot, no display); PNG bytes without the
software/version metadata so that equal data gives equal images.
"""

from __future__ import annotations

import functools
import io
import math
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat
from typing import Literal

import matplotlib.dates as mdates
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter
from PIL import Image as PILImage

from envmon.alarms.events import Level
from envmon.readings import NS_PER_S, PARTICLES_0_5UM, PARTICLES_5_0UM
from envmon.report.queries import chart_bucket_s
from envmon.report.text import where_text
from envmon.report.values import Chart, SeriesPoint

ACTION_COLOUR = "#c62828"
ALERT_COLOUR = "#ef8f00"
DATA_COLOUR = "#1f4e9a"
GAP_COLOUR = "#7a7a7a"
_PARTICLES = (PARTICLES_0_5UM, PARTICLES_5_0UM)
HEIGHT_IN = 1.9
DPI = 130
CHART_NOTE = (
    "One chart per room (and equipment) and parameter, all its sensors combined. Particle "
    "axes spanning more than two decades are logarithmic."
)


_NS_PER_DAY = 86_400 * NS_PER_S


def _x(ts_ns: int) -> float:
    """matplotlib's date number of a UTC timestamp: days since its epoch, 1970-01-01.

    Plain arithmetic: ``date2num`` costs a tenth of a chart's drawing time.
    """
    return ts_ns / _NS_PER_DAY


def _decades(chart: Chart) -> float:
    """How many powers of ten the data and limit lines span (from 1 up)."""
    values = [p.max for p in chart.points] + [
        v
        for _, lines in chart.limit_spans
        for v in (lines.alert_high, lines.action_high, lines.alert_low, lines.action_low)
        if v is not None
    ]
    low = max(min((p.min for p in chart.points), default=1.0), 1.0)
    high = max(values, default=1.0)
    return math.log10(max(high, 1.0) / low)


PARALLEL_FROM_CHARTS = 24
"""Below this many charts, starting worker processes costs more than it saves."""


def render_charts(
    charts: Sequence[Chart], from_ns: int, to_ns: int, compress_level: int = 6
) -> list[bytes]:
    """The PNG of each chart, in order; spread over the CPU cores for a large report.

    A 50-room report has some 250 charts at about 0.1 s each: the one part
    of a report that is CPU-bound, and independent per chart.
    """
    workers = min(os.cpu_count() or 1, 8)
    if len(charts) < PARALLEL_FROM_CHARTS or workers < 2:
        return [chart_png(c, from_ns, to_ns, compress_level=compress_level) for c in charts]
    # fork: the workers inherit the loaded matplotlib instead of importing it again.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        chunk = max(1, len(charts) // (workers * 4))
        return list(
            pool.map(
                chart_png, charts, repeat(from_ns), repeat(to_ns), repeat(10.0),
                repeat(compress_level), chunksize=chunk,
            )
        )  # fmt: skip


def chart_png(
    chart: Chart, from_ns: int, to_ns: int, width_in: float = 10.0, compress_level: int = 6
) -> bytes:
    """The chart of one room and parameter over the report window, as PNG bytes.

    ``compress_level`` 1 suits a PDF, which recompresses the pixels anyway.
    """
    # A bare Figure, not pyplot: nothing global to register or close.
    fig = Figure(figsize=(width_in, HEIGHT_IN), dpi=DPI)
    ax = fig.add_subplot()
    _draw(ax, chart, from_ns, to_ns)
    # Fixed margins, not tight_layout: every chart's plot area lines up on the page.
    fig.subplots_adjust(left=0.075, right=0.985, top=0.86, bottom=0.2)
    return _png(fig, compress_level)


def key_png(width_in: float = 10.0) -> bytes:
    """One key for all charts (a legend per chart would double the drawing time)."""
    fig = Figure(figsize=(width_in, 0.32), dpi=DPI)
    handles = [
        Patch(facecolor=DATA_COLOUR, alpha=0.25, label="min-max per bucket"),
        Line2D([], [], color=DATA_COLOUR, linewidth=0.9, label="mean"),
        Line2D([], [], color=ACTION_COLOUR, linestyle="--", label="action limit"),
        Line2D([], [], color=ALERT_COLOUR, linestyle=":", label="alert limit"),
        Patch(facecolor=ACTION_COLOUR, alpha=0.18, label="action excursion"),
        Patch(facecolor=ALERT_COLOUR, alpha=0.18, label="alert excursion"),
        Patch(facecolor="none", edgecolor=GAP_COLOUR, hatch="///", label="data gap"),
    ]
    fig.legend(handles=handles, loc="center", ncol=len(handles), fontsize=7, frameon=False)
    return _png(fig, 6)


def _png(fig: Figure, compress_level: int) -> bytes:
    """RGB, not matplotlib's RGBA: reportlab would embed the alpha as a second image."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    width, height = canvas.get_width_height()
    rgba = PILImage.frombuffer("RGBA", (width, height), bytes(canvas.buffer_rgba()))
    out = io.BytesIO()
    rgba.convert("RGB").save(out, format="PNG", compress_level=compress_level)
    return out.getvalue()


@functools.lru_cache(maxsize=4)
def _time_ticks(from_ns: int, to_ns: int) -> tuple[tuple[float, ...], tuple[str, ...], str]:
    """Tick positions, labels and offset text of the window (the same on every chart)."""
    fig = Figure(figsize=(10.0, HEIGHT_IN), dpi=DPI)
    ax = fig.add_subplot()
    lo, hi = _x(from_ns), _x(to_ns)
    # The arithmetic in _x holds only for matplotlib's default date epoch.
    assert mdates.get_epoch() == "1970-01-01T00:00:00", mdates.get_epoch()
    ax.set_xlim(lo, hi)
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    locator.set_axis(ax.xaxis)
    formatter = mdates.ConciseDateFormatter(locator)
    positions = [float(t) for t in locator() if lo - 1e-9 <= t <= hi + 1e-9]
    labels = formatter.format_ticks(positions)
    return tuple(positions), tuple(labels), formatter.get_offset()


Vertex = tuple[int, float, float, float]
"""``(time, min, max, mean)`` of a post-step."""


def bucket_steps(points: Sequence[SeriesPoint], bucket_ns: int, to_ns: int) -> list[list[Vertex]]:
    """Runs of consecutive buckets, each closed by a vertex at its last bucket's end.

    A post-step draws a value up to the next vertex: without that end vertex the
    last bucket would not be drawn at all, and a bucket without data (InfluxDB's
    ``fill(none)`` leaves it out) would carry the one before it across. The end
    is the window's end at the latest.
    """
    runs: list[list[Vertex]] = []
    run: list[Vertex] = []
    for i, p in enumerate(points):
        run.append((p.ts_ns, p.min, p.max, p.mean))
        end_ns = min(p.ts_ns + bucket_ns, to_ns)
        if i + 1 == len(points) or points[i + 1].ts_ns > end_ns:
            run.append((end_ns, p.min, p.max, p.mean))
            runs.append(run)
            run = []
    return runs


def _draw(ax: Axes, chart: Chart, from_ns: int, to_ns: int) -> None:
    bucket_ns = chart_bucket_s(from_ns, to_ns) * NS_PER_S
    for run in bucket_steps(chart.points, bucket_ns, to_ns):
        times = [_x(v[0]) for v in run]
        ax.fill_between(
            times,
            [v[1] for v in run],
            [v[2] for v in run],
            step="post",
            color=DATA_COLOUR,
            alpha=0.25,
            linewidth=0,
        )
        ax.step(times, [v[3] for v in run], where="post", color=DATA_COLOUR, linewidth=0.9)
    if not chart.points:
        ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center")

    _draw_limits(ax, chart)

    for e in chart.excursions:
        start = max(e.start_ns, from_ns)
        end = min(e.end_ns if e.end_ns is not None else to_ns, to_ns)
        colour = ACTION_COLOUR if e.level is Level.ACTION else ALERT_COLOUR
        ax.axvspan(_x(start), _x(max(end, start)), color=colour, alpha=0.18, linewidth=0)

    for gap in chart.gaps:
        ax.axvspan(
            _x(gap.start_ns), _x(gap.end_ns), facecolor="none", edgecolor=GAP_COLOUR,
            hatch="///", linewidth=0,
        )  # fmt: skip

    if chart.parameter in _PARTICLES and _decades(chart) > 2:
        # Counts from zero to millions against Annex 1 limits: a linear axis
        # would flatten the data to the floor.
        ax.set_yscale("symlog", linthresh=10)
    ax.set_xlim(_x(from_ns), _x(to_ns))
    positions, labels, offset = _time_ticks(from_ns, to_ns)
    ax.set_xticks(positions, labels)
    ax.annotate(
        offset, xy=(1.0, 0.0), xycoords="axes fraction", xytext=(0, -19),
        textcoords="offset points", ha="right", va="top", fontsize=7,
    )  # fmt: skip
    where = where_text(chart.room, chart.equipment)
    ax.set_title(
        f"{where} - {chart.label or chart.parameter}, times in UTC", fontsize=9, loc="left"
    )
    ax.tick_params(labelsize=7)
    ax.grid(True, linewidth=0.3, alpha=0.6)
    if ax.get_yscale() == "linear":
        # matplotlib would write large counts as "x 1e6" above the axis, over the title.
        ax.yaxis.set_major_formatter(FuncFormatter(tick_text))


def tick_text(value: float, _position: object = None) -> str:
    """A y tick as a plain number: thousands separated by a space, never an offset."""
    if value == int(value):
        return f"{int(value):,}".replace(",", " ")
    return f"{value:.6g}"


_LIMIT_STYLES: tuple[tuple[str, str, Literal["--", ":"]], ...] = (
    ("action_high", ACTION_COLOUR, "--"),
    ("action_low", ACTION_COLOUR, "--"),
    ("alert_high", ALERT_COLOUR, ":"),
    ("alert_low", ALERT_COLOUR, ":"),
)


def _draw_limits(ax: Axes, chart: Chart) -> None:
    """Each limit as a step line over the spans it was in force (a gap where none was)."""
    if not chart.limit_spans:
        return
    times = [_x(span.start_ns) for span, _ in chart.limit_spans]
    times.append(_x(chart.limit_spans[-1][0].end_ns))
    for key, colour, style in _LIMIT_STYLES:
        values = [getattr(lines, key) for _, lines in chart.limit_spans]
        if all(v is None for v in values):
            continue
        ys = [math.nan if v is None else float(v) for v in values]
        ax.step(times, [*ys, ys[-1]], where="post", color=colour, linestyle=style,
                linewidth=1.2)  # fmt: skip
