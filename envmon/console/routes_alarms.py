"""The active alarm list (live, sortable) and one alarm's detail."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from envmon.alarms.events import Alarm, Excursion
from envmon.console.context import Console, console_of, render, signed_in
from envmon.console.entries import entry_view
from envmon.console.views import (
    DASH,
    STATE_LABELS,
    alarm_row,
    parse_sort,
    sort_alarms,
    time_label,
    where,
)
from envmon.journal.audit import excursion_from_record
from envmon.report.text import duration_text


def _list_context(console: Console, request: Request) -> dict[str, Any]:
    # The head first: a change after this read reaches the page as an event.
    head_seq = console.reader.head_seq()
    sort = parse_sort(request.query_params.get("sort"))
    descending = request.query_params.get("dir") == "desc"
    alarms = console.journal.open_alarms()
    now_ns = console.clock_ns()
    words = console.words()
    rows = [alarm_row(a, now_ns, words) for a in sort_alarms(alarms, sort, descending)]
    return {
        "rows": rows,
        "sort": sort.value,
        "descending": descending,
        "unacked": sum(1 for r in rows if r.needs_ack),
        "query": request.url.query,
        "head_seq": head_seq,
    }


@signed_in
async def home(request: Request) -> Response:
    return RedirectResponse("/alarms", status_code=303)


@signed_in
async def alarm_list(request: Request) -> Response:
    console = console_of(request)
    context = await run_in_threadpool(_list_context, console, request)
    return render(request, "alarms.html", context)


@signed_in
async def alarm_rows(request: Request) -> Response:
    console = console_of(request)
    context = await run_in_threadpool(_list_context, console, request)
    return render(request, "_alarm_rows.html", context)


def _excursions(console: Console, alarm_id: str) -> list[Excursion]:
    """The alarm's excursions as the journal last recorded each, by start."""
    latest: dict[str, Excursion] = {}
    for entry in console.reader.about(alarm_id):
        record = entry.data.get("excursion")
        if isinstance(record, dict):
            excursion = excursion_from_record(record)
            latest[excursion.id] = excursion
    return sorted(latest.values(), key=lambda e: e.start_ns)


def _equipment_label(console: Console, equipment_id: str | None) -> str:
    """``INC-01, CO2 incubator 1 (incubator)``: what the facility file says of it."""
    if equipment_id is None:
        return ""
    facility = console.facility_to_name_by()
    equipment = facility.equipment.get(equipment_id) if facility is not None else None
    if equipment is None:  # no facility to be shown, or no longer in it
        return equipment_id
    named = f", {equipment.name}" if equipment.name else ""
    return f"{equipment.id}{named} ({equipment.type})"


def _detail_context(console: Console, alarm: Alarm, head_seq: int) -> dict[str, Any]:
    now_ns = console.clock_ns()
    words = console.words()
    entries = [entry_view(e, words) for e in console.reader.about(alarm.id)]
    excursions = [
        {
            "level": e.level.value,
            "start": time_label(e.start_ns),
            "end": time_label(e.end_ns) if e.end_ns is not None else "still beyond the limit",
            "duration": duration_text(e.duration_s, DASH),
            "peak": words.value(e.peak, e.parameter, e.rule),
            "limit": words.value(e.limit, e.parameter, e.rule),
            "room_state": e.room_state,
            "samples": e.samples,
        }
        for e in _excursions(console, alarm.id)
    ]
    return {
        "alarm": alarm,
        "place": where(alarm.room, alarm.equipment),
        "equipment": _equipment_label(console, alarm.equipment),
        "row": alarm_row(alarm, now_ns, words),
        "entries": entries,
        "excursions": excursions,
        "cleared": time_label(alarm.cleared_ns),
        "underlying": STATE_LABELS.get(alarm.lifecycle_state.value, alarm.lifecycle_state.value),
        "signatures": [
            {
                "meaning": s.meaning,
                "full_name": s.full_name,
                "user": s.user,
                "role": s.role,
                "signed": time_label(s.signed_ns),
                "comment": s.comment,
            }
            for s in alarm.signatures
        ],
        "acked": time_label(alarm.acked_ns),
        "value": words.value(alarm.value, alarm.parameter, alarm.rule),
        "peak": words.value(alarm.peak, alarm.parameter, alarm.rule),
        "limit": words.value(alarm.limit, alarm.parameter, alarm.rule),
        "head_seq": head_seq,
    }


async def _detail(request: Request, template: str) -> Response:
    console = console_of(request)
    alarm_id = request.path_params["alarm_id"]
    head_seq = await run_in_threadpool(console.reader.head_seq)
    alarm = await run_in_threadpool(console.journal.get_alarm, alarm_id)
    if alarm is None:
        return render(
            request,
            "error.html",
            {"title": "No such alarm", "message": f"The journal has no alarm {alarm_id}."},
            404,
        )
    context = await run_in_threadpool(_detail_context, console, alarm, head_seq)
    return render(request, template, context)


@signed_in
async def alarm_detail(request: Request) -> Response:
    return await _detail(request, "alarm.html")


@signed_in
async def alarm_panel(request: Request) -> Response:
    return await _detail(request, "_alarm_panel.html")


routes = [
    Route("/", home),
    Route("/alarms", alarm_list),
    Route("/alarms/rows", alarm_rows),
    Route("/alarms/{alarm_id}", alarm_detail),
    Route("/alarms/{alarm_id}/panel", alarm_panel),
]
