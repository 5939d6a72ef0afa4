"""The report as one self-contained HTML page: same content as the PDF.

No external resources: styles inline, charts as embedded PNG data URIs.
Unacknowledged excursions are shaded red and marked in words (colour alone
does not survive a greyscale printout).
"""

from __future__ import annotations

import base64
from html import escape

from envmon.report.charts import CHART_NOTE, key_png, render_charts
from envmon.report.contract import report_json
from envmon.report.record_tables import (
    alarm_rows,
    change_rows,
    extract_rows,
    limits_rows,
    service_rows,
    shelved_rows,
    signature_rows,
)
from envmon.report.tables import (
    NUMERIC_COLUMNS,
    calibration_rows,
    equipment_rows,
    excursion_rows,
    gap_rows,
    header_rows,
    parameter_rows,
    state_rows,
    transient_rows,
)
from envmon.report.text import VERDICT_LABELS
from envmon.report.values import Report

TITLE = "Environmental monitoring report - QA batch review"

_CSS = """
body { font: 13px/1.4 "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 24px; color: #111; }
h1 { font-size: 20px; margin: 0 0 8px; } h2 { font-size: 16px; margin: 22px 0 6px; }
table { border-collapse: collapse; margin: 4px 0 8px; }
th, td { border: 1px solid #9aa5b4; padding: 2px 6px; vertical-align: top; text-align: left; }
th { background: #e3e8f0; } td.num { text-align: right; }
table.meta td, table.meta th { border: none; border-bottom: 1px solid #d0d6de; }
.mono { font-family: "DejaVu Sans Mono", Courier, monospace; font-size: 12px; }
.in_control { color: #2e7d32; font-weight: bold; } .review { color: #b26a00; font-weight: bold; }
.not_in_control { color: #c62828; font-weight: bold; }
tr.unacked td { background: #fde0dc; } .warn { color: #c62828; font-weight: bold; }
.note { color: #444; font-size: 12px; } img.chart { width: 100%; max-width: 1100px; }
table.sign td { height: 48px; min-width: 160px; }
"""


def _table(header: list[str], rows: list[list[str]], marked: frozenset[int] = frozenset()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for index, row in enumerate(rows):
        cells = "".join(
            f'<td class="num">{escape(c)}</td>' if h in NUMERIC_COLUMNS else f"<td>{escape(c)}</td>"
            for h, c in zip(header, row, strict=True)
        )
        attr = ' class="unacked"' if index in marked else ""
        body.append(f"<tr{attr}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _b64(png: bytes) -> str:
    return base64.b64encode(png).decode("ascii")


def render_html(report: Report) -> bytes:
    content_sha256 = str(report_json(report)["content_sha256"])
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(TITLE)} {escape(report.batch or '')}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{escape(TITLE)}</h1>",
        '<table class="meta">',
    ]
    for key, value in [*header_rows(report), ("Content SHA-256", content_sha256)]:
        cls = ' class="mono"' if "SHA-256" in key else ""
        parts.append(f"<tr><th>{escape(key)}</th><td{cls}>{escape(value)}</td></tr>")
    parts.append("</table>")

    parts.append('<h2>Verdict per room and equipment</h2><table class="meta">')
    verdicts = [(f"{r.room} (grade {r.grade})", r.verdict) for r in report.rooms]
    verdicts += [(f"{e.equipment} {e.type} in {e.room}", e.verdict) for e in report.equipment]
    for title, verdict in verdicts:
        parts.append(
            f"<tr><th>{escape(title)}</th>"
            f'<td class="{verdict.status}">{VERDICT_LABELS[verdict.status]}</td>'
            f"<td>{escape(verdict.text)}</td></tr>"
        )
    parts.append("</table>")

    header, rows = parameter_rows(report)
    parts += ["<h2>Figures per room and parameter</h2>", _table(header, rows)]
    header, rows = equipment_rows(report)
    if rows:
        parts += ["<h2>Figures per equipment and parameter</h2>", _table(header, rows)]
    parts.append(
        '<p class="note">Faulted: readings not judged (a sensor fault, out of its measuring '
        "range, or out of service), stored but outside samples, min, max, mean and "
        "completeness. Uncal.: readings among the samples taken after the sensor's "
        "calibration due date.</p>"
    )
    header, rows = state_rows(report)
    parts += ["<h2>Time in each room state</h2>", _table(header, rows)]

    header, rows, unacked = excursion_rows(report)
    parts.append("<h2>Excursions</h2>")
    if rows:
        if unacked:
            plural = "" if len(unacked) == 1 else "s"
            parts.append(
                f'<p class="warn">{len(unacked)} unacknowledged excursion{plural} '
                "(shaded rows).</p>"
            )
        parts.append(_table(header, rows, frozenset(unacked)))
    else:
        parts.append("<p>No excursions in the window.</p>")

    parts += _alarms(report)
    parts += _transients(report)
    header, rows = gap_rows(report)
    parts.append("<h2>Data gaps</h2>")
    parts.append(_table(header, rows) if rows else "<p>No data gaps in the window.</p>")
    parts.append(
        f'<p class="note">A data gap is a silence longer than '
        f"{report.gap_tolerance_intervals:g} &times; the sensor's interval, including the "
        "window edges.</p>"
    )

    header, rows = calibration_rows(report)
    parts.append("<h2>Sensor calibration</h2>")
    parts.append(_table(header, rows) if rows else "<p>No sensors in the report.</p>")

    header, rows = service_rows(report)
    parts.append("<h2>Sensors out of service</h2>")
    parts.append(
        _table(header, rows) if rows else "<p>No sensor was out of service in the window.</p>"
    )
    parts += _limits_and_changes(report)
    if report.charts:
        parts.append(f'<h2>Charts</h2><p class="note">{escape(CHART_NOTE)}</p>')
        parts.append(
            f'<p><img class="chart" alt="key" src="data:image/png;base64,{_b64(key_png())}"></p>'
        )
        pngs = render_charts(report.charts, report.from_ns, report.to_ns)
        for chart, raw in zip(report.charts, pngs, strict=True):
            png = _b64(raw)
            alt = escape(f"{chart.room} {chart.parameter}")
            parts.append(
                f'<p><img class="chart" alt="{alt}" src="data:image/png;base64,{png}"></p>'
            )

    parts.append(
        '<h2>Review and approval</h2><table class="sign"><tr><th></th><th>Name</th>'
        "<th>Signature</th><th>Date</th></tr>"
        "<tr><th>Reviewed by (QA)</th><td></td><td></td><td></td></tr>"
        "<tr><th>Approved by (QP / QA head)</th><td></td><td></td><td></td></tr></table>"
    )
    parts.append("</body></html>\n")
    return "\n".join(parts).encode("utf-8")


def _alarms(report: Report) -> list[str]:
    """Every alarm of every level, the signatures on them, their shelvings."""
    header, rows, unacked = alarm_rows(report)
    parts = ["<h2>Alarms (every level)</h2>"]
    if not rows:
        return [*parts, "<p>No alarms in the window.</p>"]
    parts.append(_table(header, rows, frozenset(unacked)))
    header, rows = signature_rows(report)
    parts.append("<h2>Signatures on these alarms</h2>")
    parts.append(_table(header, rows) if rows else "<p>No signatures on these alarms.</p>")
    header, rows = shelved_rows(report)
    if rows:
        parts += ["<h2>Shelving</h2>", _table(header, rows)]
    return parts


def _transients(report: Report) -> list[str]:
    """Readings beyond a limit that met no delay or persistence rule: after the alarms."""
    header, rows = transient_rows(report)
    title = "<h2>Transients (beyond a limit, shorter than its delay or rule)</h2>"
    return [title, _table(header, rows) if rows else "<p>No transients in the window.</p>"]


def _limits_and_changes(report: Report) -> list[str]:
    """Limits in force, configuration changes (unsigned shaded), the audit extract."""
    header, rows = limits_rows(report)
    parts = ["<h2>Limits in force</h2>"]
    parts.append(
        _table(header, rows) if rows else "<p>No limits in force for the reported parameters.</p>"
    )
    header, rows, unsigned = change_rows(report)
    parts.append("<h2>Configuration changes</h2>")
    if rows:
        if unsigned:
            parts.append('<p class="warn">Shaded rows: loads nobody signed.</p>')
        parts.append(_table(header, rows, frozenset(unsigned)))
    else:
        parts.append("<p>No configuration was loaded in the window.</p>")
    header, rows = extract_rows(report)
    parts.append("<h2>Audit extract</h2>")
    parts.append(_table(header, rows) if rows else "<p>No journal entries in the window.</p>")
    return parts
