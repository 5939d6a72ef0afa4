"""Sensors (service and calibration state) and rooms (operating state)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from envmon.console.context import Console, Handler, console_of, render, signed_in
from envmon.console.plant import ServiceView, room_rows, sensor_rows
from envmon.console.views import time_label
from envmon.facility import Facility


def service_views(console: Console, facility: Facility, now_ns: int) -> dict[str, ServiceView]:
    """The facility's sensors out of service now, from the journal's signed service periods."""
    states = console.journal.requests.service_states()
    out = {}
    for sensor in facility.sensors:
        period = states.period_at(sensor, now_ns)
        if period is not None:
            sig = period.signature
            out[sensor] = ServiceView(
                in_service=False,
                label="out of service",
                since=time_label(period.from_ns),
                until=time_label(period.until_ns) if period.until_ns is not None else "",
                by=f"{sig.full_name} ({sig.user})",
                comment=sig.comment,
            )
    return out


def _sensors_context(console: Console) -> dict[str, Any]:
    head_seq = console.reader.head_seq()
    now_ns = console.clock_ns()
    shown = console.facility_shown()
    alarms = console.journal.open_alarms()
    rows = sensor_rows(
        shown.facility, service_views(console, shown.facility, now_ns), alarms, now_ns
    )
    return {"sensors": rows, "head_seq": head_seq, "facility_notice": shown.notice}


def _rooms_context(console: Console) -> dict[str, Any]:
    head_seq = console.reader.head_seq()
    now_ns = console.clock_ns()
    shown = console.facility_shown()
    latest = console.journal.room_state_changes(now_ns + 1, now_ns + 1)
    alarms = console.journal.open_alarms()
    rows = room_rows(shown.facility, latest, alarms, now_ns)
    return {"rooms": rows, "head_seq": head_seq, "facility_notice": shown.notice}


def _page(template: str, context_of: Callable[[Console], dict[str, Any]]) -> Handler:
    """A signed-in page, or the table its live updates fetch, of ``context_of``'s values
    (read off the event loop: the journal is SQLite)."""

    @signed_in
    async def page(request: Request) -> Response:
        context = await run_in_threadpool(context_of, console_of(request))
        return render(request, template, context)

    return page


sensors = _page("sensors.html", _sensors_context)
sensors_table = _page("_sensors.html", _sensors_context)
rooms = _page("rooms.html", _rooms_context)
rooms_table = _page("_rooms.html", _rooms_context)


routes = [
    Route("/sensors", sensors),
    Route("/sensors/table", sensors_table),
    Route("/rooms", rooms),
    Route("/rooms/table", rooms_table),
]
