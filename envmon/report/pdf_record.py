"""The batch record's sections of the PDF: alarms with signatures and shelvings, sensors
out of service, limits in force, configuration changes and the audit extract."""

from __future__ import annotations

from reportlab.platypus import Flowable, Paragraph

from envmon.report.pdf_style import BODY, H2, NOTE, UNACKED_BACKGROUND, table
from envmon.report.record_tables import (
    alarm_rows,
    change_rows,
    extract_rows,
    limits_rows,
    service_rows,
    shelved_rows,
    signature_rows,
)
from envmon.report.values import Report


def _shaded(indexes: list[int]) -> list[tuple[object, ...]]:
    return [("BACKGROUND", (0, i + 1), (-1, i + 1), UNACKED_BACKGROUND) for i in indexes]


def alarms(report: Report) -> list[Flowable]:
    """Every alarm of every level, then the signatures on them and their shelvings."""
    header, rows, unacked = alarm_rows(report)
    flow: list[Flowable] = [Paragraph("Alarms (every level)", H2)]
    if not rows:
        return [*flow, Paragraph("No alarms in the window.", BODY)]
    flow.append(table(header, rows, [9, 8, 8, 11, 7, 11, 11, 6, 6, 9, 12], _shaded(unacked)))
    header, rows = signature_rows(report)
    flow.append(Paragraph("Signatures on these alarms", H2))
    if rows:
        flow.append(table(header, rows, [9, 14, 7, 9, 11, 30]))
    else:
        flow.append(Paragraph("No signatures on these alarms.", BODY))
    header, rows = shelved_rows(report)
    if rows:
        flow += [Paragraph("Shelving", H2), table(header, rows, [9, 11, 11, 11, 13, 22, 13])]
    return flow


def out_of_service(report: Report) -> list[Flowable]:
    header, rows = service_rows(report)
    flow: list[Flowable] = [Paragraph("Sensors out of service", H2)]
    if not rows:
        return [*flow, Paragraph("No sensor was out of service in the window.", BODY)]
    return [*flow, table(header, rows, [9, 9, 11, 11, 13, 22, 13])]


def limits_in_force(report: Report) -> list[Flowable]:
    header, rows = limits_rows(report)
    flow: list[Flowable] = [Paragraph("Limits in force", H2)]
    if not rows:
        return [*flow, Paragraph("No limits in force for the reported parameters.", BODY)]
    return [
        *flow,
        table(header, rows, [9, 14, 8, 11, 11, 6, 6, 6, 6, 24]),
        Paragraph(
            "The limits each interval was judged against, as the journal's configuration "
            "loads put them in force, split at each load and room-state change.",
            NOTE,
        ),
    ]


def config_changes(report: Report) -> list[Flowable]:
    header, rows, unsigned = change_rows(report)
    flow: list[Flowable] = [Paragraph("Configuration changes", H2)]
    if not rows:
        return [*flow, Paragraph("No configuration was loaded in the window.", BODY)]
    if unsigned:
        flow.append(Paragraph("Shaded rows: loads nobody signed.", NOTE))
    return [*flow, table(header, rows, [11, 11, 12, 14, 10, 26, 8, 8], _shaded(unsigned))]


def audit_extract(report: Report) -> list[Flowable]:
    header, rows = extract_rows(report)
    flow: list[Flowable] = [Paragraph("Audit extract", H2)]
    if not rows:
        return [*flow, Paragraph("No journal entries in the window.", BODY)]
    return [*flow, table(header, rows, [4, 11, 9, 7, 6, 63])]
