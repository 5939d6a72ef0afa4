"""The report as the JSON of the contract, indented, UTF-8, one trailing newline."""

from __future__ import annotations

import json

from envmon.report.contract import report_json
from envmon.report.values import Report


def render_json(report: Report) -> bytes:
    """Keys in contract order; the same data gives the same bytes apart from ``generated_at``."""
    return (json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
