"""Reports for QA: a batch or a time window, as PDF or JSON.

The report needs InfluxDB; when it cannot be reached, or the window holds no
readings, the page says so in one line and nothing is downloaded.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from envmon.console.context import console_of, forbidden, render, session_of, signed_in
from envmon.console.gate import Act
from envmon.console.routes_sign import FormProblem, parse_utc_local
from envmon.errors import EnvmonError, ServiceUnavailable

FORMATS = {"pdf": "application/pdf", "json": "application/json"}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _page(request: Request, values: dict[str, Any], error: str = "", status: int = 200) -> Response:
    shown = console_of(request).facility_shown()
    context = {
        "rooms": sorted(shown.facility.rooms),
        "values": values,
        "error": error,
        "facility_notice": shown.notice,
    }
    return render(request, "reports.html", context, status)


@signed_in
async def reports_page(request: Request) -> Response:
    session = session_of(request)
    assert session is not None
    if not console_of(request).gate.may(session.role, Act.REPORT):
        return forbidden(request, "Reports are for the QA role.")
    return _page(request, {"format": "pdf", "rooms": []})


@signed_in
async def make_report(request: Request) -> Response:
    console = console_of(request)
    session = session_of(request)
    assert session is not None and session.user is not None
    if not console.gate.may(session.role, Act.REPORT):
        return forbidden(request, "Reports are for the QA role.")
    form = await request.form()
    values: dict[str, Any] = {
        "from": str(form.get("from", "")),
        "to": str(form.get("to", "")),
        "batch": str(form.get("batch", "")).strip(),
        "format": str(form.get("format", "pdf")),
        "rooms": [str(r) for r in form.getlist("room")],
    }
    fmt = values["format"]
    if fmt not in FORMATS:
        return _page(request, values, "Choose PDF or JSON.", 400)
    try:
        from_ns = parse_utc_local(values["from"])
        to_ns = parse_utc_local(values["to"])
    except FormProblem as exc:
        return _page(request, values, f"The window: {exc}.", 400)
    try:
        data = await run_in_threadpool(
            console.make_report,
            console.settings,
            console.facility(),
            from_ns,
            to_ns,
            values["rooms"] or None,
            values["batch"] or None,
            fmt,
            f"{session.user} (console)",
        )
    except ServiceUnavailable as exc:
        return _page(request, values, f"No report: {exc}", 503)
    except EnvmonError as exc:
        return _page(request, values, f"No report: {exc}", 400)
    name = _SAFE_NAME.sub("_", values["batch"] or "window") + f"-report.{fmt}"
    return Response(
        data,
        media_type=FORMATS[fmt],
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


routes = [
    Route("/reports", reports_page, methods=["GET"]),
    Route("/reports", make_report, methods=["POST"]),
]
