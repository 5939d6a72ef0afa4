"""QA excursion reports for batch review: journal + InfluxQL -> PDF, HTML, CSV, JSON.

``command.generate`` is the entry point (``envmon report``); ``model.build_report``
computes every figure from plain values; ``contract.report_json`` is the JSON
object of design.md section 6; the ``render_*`` modules turn a report into bytes.
"""

from envmon.report.contract import content_sha256, report_json
from envmon.report.model import Report, ReportInputs, build_report

__all__ = ["Report", "ReportInputs", "build_report", "content_sha256", "report_json"]
