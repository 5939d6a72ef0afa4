"""The report as a PDF for the batch record (reportlab, A4 landscape).

Order (``_story``): header (batch, window, rooms and grades, who/when,
versions, hashes and the journal head), one verdict line per room and
equipment, the figures, excursions, alarms with their signatures,
transients, gaps and faults, limits in force, configuration changes, the
audit extract, a chart per room and parameter, and the review/approval
signature block. Every page has a "page X of Y" footer carrying the batch
and the content hash. reportlab's invariant mode keeps the bytes stable for
equal content; the creation date is the report's generation time.
"""

from __future__ import annotations

import io
import time
from typing import Any

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import TimeStamp
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Table,
    TableStyle,
)

from envmon.readings import NS_PER_S
from envmon.report import pdf_record
from envmon.report.charts import CHART_NOTE, HEIGHT_IN, key_png, render_charts
from envmon.report.contract import report_json
from envmon.report.pdf_style import (
    BODY,
    BODY_WIDTH,
    CELL,
    CELL_MONO,
    GRID,
    H1,
    H2,
    HEADER_BACKGROUND,
    MARGIN,
    NOTE,
    PAGE,
    STATUS_COLOURS,
    TITLE,
    UNACKED_BACKGROUND,
)
from envmon.report.pdf_style import esc as _esc
from envmon.report.pdf_style import table as _table
from envmon.report.tables import (
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


def _header(report: Report, content_sha256: str) -> list[Flowable]:
    rows = [*header_rows(report), ("Content SHA-256", content_sha256)]
    data = [
        [
            Paragraph(f"<b>{_esc(k)}</b>", CELL),
            Paragraph(_esc(v), CELL_MONO if "SHA-256" in k else CELL),
        ]
        for k, v in rows
    ]
    table = Table(data, colWidths=[45 * mm, BODY_WIDTH - 45 * mm])
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, -1), 0.3, GRID),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ]
        )
    )
    return [Paragraph(TITLE, H1), table]


def _verdicts(report: Report) -> list[Flowable]:
    data = []
    verdicts = [(f"<b>{_esc(r.room)}</b> (grade {_esc(r.grade)})", r.verdict) for r in report.rooms]
    verdicts += [
        (f"<b>{_esc(e.equipment)}</b> {_esc(e.type)} in {_esc(e.room)}", e.verdict)
        for e in report.equipment
    ]
    for title, verdict in verdicts:
        colour = STATUS_COLOURS[verdict.status].hexval()[2:]
        data.append(
            [
                Paragraph(title, CELL),
                Paragraph(
                    f'<font color="#{colour}"><b>{VERDICT_LABELS[verdict.status]}</b></font>',
                    CELL,
                ),
                Paragraph(_esc(verdict.text), CELL),
            ]
        )
    table = Table(data, colWidths=[45 * mm, 30 * mm, BODY_WIDTH - 75 * mm])
    table.setStyle(
        TableStyle(
            [("LINEBELOW", (0, 0), (-1, -1), 0.3, GRID), ("VALIGN", (0, 0), (-1, -1), "TOP")]
        )
    )
    return [Paragraph("Verdict per room and equipment", H2), table]


def _excursions(report: Report) -> list[Flowable]:
    header, rows, unacked = excursion_rows(report)
    if not rows:
        return [Paragraph("Excursions", H2), Paragraph("No excursions in the window.", BODY)]
    extra = [("BACKGROUND", (0, i + 1), (-1, i + 1), UNACKED_BACKGROUND) for i in unacked]
    widths = [10, 8, 12, 8, 10, 10, 8, 6, 6, 8, 14, 12, 16]
    flow: list[Flowable] = [Paragraph("Excursions", H2)]
    if unacked:
        flow.append(
            Paragraph(
                f'<font color="#c62828"><b>{len(unacked)} unacknowledged excursion'
                f"{'' if len(unacked) == 1 else 's'}</b></font> (shaded rows).",
                ParagraphStyle("warn", parent=BODY, keepWithNext=1),
            )
        )
    flow.append(_table(header, rows, widths, extra))
    return flow


def _transients(report: Report) -> list[Flowable]:
    header, rows = transient_rows(report)
    title = Paragraph("Transients (beyond a limit, shorter than its delay or rule)", H2)
    if not rows:
        return [title, Paragraph("No transients in the window.", BODY)]
    return [title, _table(header, rows, [10, 10, 14, 8, 6, 6, 8, 8, 8])]


def _signatures() -> Flowable:
    rows = [["", "Name", "Signature", "Date"]]
    rows += [[role, "", "", ""] for role in ("Reviewed by (QA)", "Approved by (QP / QA head)")]
    table = Table(
        [[Paragraph(f"<b>{c}</b>" if i == 0 else c, BODY) for c in r] for i, r in enumerate(rows)],
        colWidths=[w / 255 * BODY_WIDTH for w in (55, 70, 90, 40)],
        rowHeights=[None, 16 * mm, 16 * mm],
    )
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, GRID),
                ("BACKGROUND", (0, 0), (-1, 0), HEADER_BACKGROUND),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return KeepTogether([Paragraph("Review and approval", H2), table])


def _story(report: Report, content_sha256: str) -> list[Flowable]:
    """In the order a reviewer reads: what to conclude, what happened, whether the data
    and the limits can be trusted, who changed what, then the charts and the signatures."""
    story: list[Flowable] = [*_header(report, content_sha256), *_verdicts(report)]
    story += _figures(report)
    story += _excursions(report)
    story += pdf_record.alarms(report)
    story += _transients(report)
    story += _gaps_and_faults(report)
    story += pdf_record.limits_in_force(report)
    story += pdf_record.config_changes(report)
    story += pdf_record.audit_extract(report)
    story += _charts(report)
    story.append(_signatures())
    return story


def _figures(report: Report) -> list[Flowable]:
    figure_widths = [16, 8, 8, 9, 10, 10, 10, 6, 6, 6, 7]
    header, rows = parameter_rows(report)
    flow: list[Flowable] = [
        Paragraph("Figures per room and parameter", H2),
        _table(header, rows, [10, 6, *figure_widths]),
    ]
    header, rows = equipment_rows(report)
    if rows:
        flow += [
            Paragraph("Figures per equipment and parameter", H2),
            _table(header, rows, [14, 8, *figure_widths]),
        ]
    flow.append(
        Paragraph(
            "Faulted: readings not judged (a sensor fault, out of its measuring range, or out "
            "of service), stored but outside samples, min, max, mean and completeness. "
            "Uncal.: readings among the samples taken after the sensor's calibration "
            "due date.",
            NOTE,
        )
    )
    header, rows = state_rows(report)
    flow += [
        Paragraph("Time in each room state", H2),
        _table(header, rows, [12, 6, 12, 12, 12, 14]),
    ]
    return flow


def _gaps_and_faults(report: Report) -> list[Flowable]:
    """Data gaps, sensors out of service, and calibration: what the figures rest on."""
    header, rows = gap_rows(report)
    flow: list[Flowable] = [Paragraph("Data gaps", H2)]
    if rows:
        flow.append(_table(header, rows, [10, 10, 15, 15, 10]))
    else:
        flow.append(Paragraph("No data gaps in the window.", BODY))
    flow.append(
        Paragraph(
            f"A data gap is a silence longer than {report.gap_tolerance_intervals:g} x the "
            "sensor's interval, including the window edges.",
            NOTE,
        )
    )
    flow += pdf_record.out_of_service(report)
    header, rows = calibration_rows(report)
    flow.append(Paragraph("Sensor calibration", H2))
    if rows:
        flow.append(_table(header, rows, [12, 12, 8, 10, 14, 7, 20, 7]))
    else:
        flow.append(Paragraph("No sensors in the report.", BODY))
    return flow


def _charts(report: Report) -> list[Flowable]:
    if not report.charts:
        return []
    flow: list[Flowable] = [PageBreak(), Paragraph("Charts", H2), Paragraph(CHART_NOTE, NOTE)]
    height = BODY_WIDTH * HEIGHT_IN / 10.0
    flow.append(Image(io.BytesIO(key_png()), BODY_WIDTH, BODY_WIDTH * 0.032))
    # reportlab recompresses the pixels: a fast PNG compression loses nothing.
    pngs = render_charts(report.charts, report.from_ns, report.to_ns, compress_level=1)
    for png in pngs:
        flow += [CondPageBreak(height + 4 * mm), Image(io.BytesIO(png), BODY_WIDTH, height)]
    return flow


def _timestamp(generated_ns: int) -> TimeStamp:
    """reportlab's timestamp of the PDF's creation and modification dates, in UTC."""
    stamp = TimeStamp(invariant=1)
    seconds = generated_ns // NS_PER_S
    stamp.t = seconds
    stamp.lt = time.gmtime(seconds)
    stamp.YMDhms = tuple(stamp.lt)[:6]
    return stamp


class _NumberedCanvas(Canvas):
    """Draws the footer after layout, when the page count is known."""

    footer_text = ""
    generated_ns = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []
        # Invariant mode dates every PDF 2000-01-01: the creation date is the report's
        # generation time instead, so equal content still gives equal bytes.
        self._doc._timeStamp = _timestamp(self.generated_ns)

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self.setFont("Helvetica", 7.5)
            self.setFillColor(colors.HexColor("#444444"))
            self.drawString(MARGIN, 8 * mm, self.footer_text)
            self.drawRightString(PAGE[0] - MARGIN, 8 * mm, f"page {number} of {total}")
            super().showPage()
        super().save()


def render_pdf(report: Report) -> bytes:
    obj = report_json(report)
    content_sha256 = str(obj["content_sha256"])
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=16 * mm,
        title=f"envmon report {report.batch or ''}".strip(),
        author=report.generated_by,
        subject=TITLE,
        creator=f"envmon {report.envmon_version}",
        invariant=1,
    )
    batch = f"Batch {report.batch}" if report.batch else "No batch"
    footer = f"{batch} - envmon report - content SHA-256 {content_sha256[:16]}..."

    class _Canvas(_NumberedCanvas):
        footer_text = footer
        generated_ns = report.generated_ns

    # Binary image streams: ASCII85 (reportlab's default, for 7-bit mail) doubles
    # the time spent embedding the charts and makes the file a quarter larger.
    use_a85 = rl_config.useA85
    rl_config.useA85 = 0
    try:
        doc.build(_story(report, content_sha256), canvasmaker=_Canvas)
    finally:
        rl_config.useA85 = use_a85
    return out.getvalue()
