"""The PDF's page geometry, paragraph styles, colours and grid table (reportlab)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Table, TableStyle

from envmon.report.tables import NUMERIC_COLUMNS

PAGE = landscape(A4)
MARGIN = 14 * mm
BODY_WIDTH = PAGE[0] - 2 * MARGIN
TITLE = "Environmental monitoring report - QA batch review"

_styles = getSampleStyleSheet()
H1 = ParagraphStyle("h1", parent=_styles["Title"], fontSize=16, alignment=TA_LEFT, spaceAfter=4)
# keepWithNext: a heading never ends a page without its table.
H2 = ParagraphStyle(
    "h2", parent=_styles["Heading2"], fontSize=12, spaceBefore=8, spaceAfter=4, keepWithNext=1
)
BODY = ParagraphStyle("body", parent=_styles["BodyText"], fontSize=8.5, leading=10.5)
CELL = ParagraphStyle("cell", parent=BODY, fontSize=7.5, leading=9)
CELL_NUM = ParagraphStyle("num", parent=CELL, alignment=TA_RIGHT)
CELL_MONO = ParagraphStyle("mono", parent=CELL, fontName="Courier", fontSize=7)
NOTE = ParagraphStyle("note", parent=BODY, fontSize=7.5, textColor=colors.HexColor("#444444"))

STATUS_COLOURS = {
    "in_control": colors.HexColor("#2e7d32"),
    "review": colors.HexColor("#b26a00"),
    "not_in_control": colors.HexColor("#c62828"),
}
UNACKED_BACKGROUND = colors.HexColor("#fde0dc")
HEADER_BACKGROUND = colors.HexColor("#e3e8f0")
GRID = colors.HexColor("#9aa5b4")


def esc(text: Any) -> str:
    return (
        str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        if text is not None
        else ""
    )


def table(
    header: list[str],
    rows: list[list[str]],
    widths: Sequence[float],
    extra: list[Any] | None = None,
) -> Table:
    """A grid table whose cells wrap; the header row repeats on each page."""
    styles = [CELL_NUM if h in NUMERIC_COLUMNS else CELL for h in header]
    data = [[Paragraph(f"<b>{esc(h)}</b>", st) for h, st in zip(header, styles, strict=True)]]
    data += [[Paragraph(esc(c), st) for c, st in zip(row, styles, strict=True)] for row in rows]
    total = sum(widths)
    grid = Table(data, colWidths=[w / total * BODY_WIDTH for w in widths], repeatRows=1)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.4, GRID),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_BACKGROUND),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    grid.setStyle(TableStyle(style + (extra or [])))
    return grid
