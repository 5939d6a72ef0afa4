"""Sensors (service and calibration state) and rooms (operating state)."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from envmon.console.context import Console, console_of, render, signed_in
from envmon.console.plant import ServiceView, room_rows, sensor_rows


def service_views(console: Console, now_ns: int) -> dict[str, ServiceView]:
    """Sensors out of service now, from the journal's signed service periods."""
    return {}


def _sensors_context(console: Console) -> dict[str, Any]:
    head_seq = console.reader.head_seq()
    now_ns = console.clock_ns()
    facility = console.facility()
    alarms = console.journal.open_alarms()
    rows = sensor_rows(facility, service_views(console, now_ns), alarms, now_ns)
    return {"sensors": rows, "head_seq": head_seq}


def _rooms_context(console: Console) -> dict[str, Any]:
    head_seq = console.reader.head_seq()
    now_ns = console.clock_ns()
    facility = console.facility()
    latest = console.journal.room_state_changes(now_ns + 1, now_ns + 1)
    alarms = console.journal.open_alarms()
    return {"rooms": room_rows(facility, latest, alarms, now_ns), "head_seq": head_seq}


@signed_in
async def sensors(request: Request) -> Response:
    context = await run_in_threadpool(_sensors_context, console_of(request))
    return render(request, "sensors.html", context)


@signed_in
async def sensors_table(request: Request) -> Response:
    context = await run_in_threadpool(_sensors_context, console_of(request))
    return render(request, "_sensors.html", context)


@signed_in
async def rooms(request: Request) -> Response:
    context = await run_in_threadpool(_rooms_context, console_of(request))
    return render(request, "rooms.html", context)


@signed_in
async def rooms_table(request: Request) -> Response:
    context = await run_in_threadpool(_rooms_context, console_of(request))
    return render(request, "_rooms.html", context)


routes = [
    Route("/sensors", sensors),
    Route("/sensors/table", sensors_table),
    Route("/rooms", rooms),
    Route("/rooms/table", rooms_table),
]
