"""The signature dialog: every act in the console is an electronic signature.

``GET /sign/{act}/{target}`` shows the form (as a page, or ``?fragment=1`` for
the dialog the page opens); ``POST`` signs through the gate. The password is
asked every time and never shown again; the role is checked here before the
gate is asked, and the gate's signer checks it again. A refused signature
changes nothing and says why in the form; a made one is told on the next page.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from envmon.alarms.events import Alarm, AlarmState
from envmon.console.context import (
    Console,
    Handler,
    client_of,
    console_of,
    error_page,
    forbidden,
    render,
    session_of,
    signed_in,
    wants_fragment,
)
from envmon.console.gate import Act, Outcome, SignRequest
from envmon.console.sessions import Flash
from envmon.console.views import age_label, level_label, where
from envmon.readings import RoomState, datetime_to_ns

SIGNED_ACTS: Final = (
    Act.ACK,
    Act.SHELVE,
    Act.UNSHELVE,
    Act.OUT_OF_SERVICE,
    Act.IN_SERVICE,
    Act.ROOM_STATE,
)
TITLES: Final = {
    Act.ACK: "Acknowledge alarm",
    Act.SHELVE: "Shelve alarm",
    Act.UNSHELVE: "Unshelve alarm",
    Act.OUT_OF_SERVICE: "Take sensor out of service",
    Act.IN_SERVICE: "Return sensor to service",
    Act.ROOM_STATE: "Set room state",
}
SHELVE_CHOICES_S: Final = (900, 1800, 3600, 7200, 14400, 28800)
DEFAULT_MAX_SHELVE_S: Final = 8 * 3600


class FormProblem(ValueError):
    """What is wrong with the form, as one sentence for the person filling it."""


@dataclass(frozen=True, slots=True)
class Target:
    """What an act is about, as the form describes it, and where to go after."""

    kind: str
    id: str
    description: str
    back: str
    problem: str = ""
    """Why the act cannot be done now (already acknowledged, shelved, ...); asked
    before the password, as the command line does, so no signature is wasted."""


def max_shelve_s(console: Console) -> float:
    return float(getattr(console.settings.alarms, "max_shelve_s", DEFAULT_MAX_SHELVE_S))


def _alarm_problem(act: Act, alarm: Alarm) -> str:
    if not alarm.open:
        return f"Alarm {alarm.id} is closed."
    if act is Act.ACK:
        if alarm.shelved:
            return f"Alarm {alarm.id} is shelved: unshelve it first."
        if alarm.lifecycle_state is AlarmState.ACTIVE_ACKED:
            return f"Alarm {alarm.id} was already acknowledged by {alarm.acked_by}."
    if act is Act.SHELVE and alarm.shelved:
        return f"Alarm {alarm.id} is already shelved."
    if act is Act.UNSHELVE and not alarm.shelved:
        return f"Alarm {alarm.id} is not shelved."
    return ""


def _target(console: Console, act: Act, target_id: str) -> Target | None:
    if act in (Act.ACK, Act.SHELVE, Act.UNSHELVE):
        alarm = console.journal.get_alarm(target_id)
        if alarm is None:
            return None
        text = (
            f"{level_label(alarm.level.value)} alarm: {console.words().label(alarm.parameter)} "
            f"in {where(alarm.room, alarm.equipment)} ({alarm.sensor})"
        )
        return Target("alarm", alarm.id, text, f"/alarms/{alarm.id}", _alarm_problem(act, alarm))
    facility = console.facility()
    if act in (Act.OUT_OF_SERVICE, Act.IN_SERVICE):
        sensor = facility.sensors.get(target_id)
        if sensor is None:
            return None
        out = console.journal.requests.service_states().out_of_service(
            sensor.id, console.clock_ns()
        )
        problem = ""
        if act is Act.OUT_OF_SERVICE and out:
            problem = f"Sensor {sensor.id} is already out of service."
        elif act is Act.IN_SERVICE and not out:
            problem = f"Sensor {sensor.id} is in service."
        text = f"{sensor.kind} sensor in {where(sensor.room, sensor.equipment)}"
        return Target("sensor", sensor.id, text, "/sensors", problem)
    room = facility.rooms.get(target_id)
    if room is None:
        return None
    return Target("room", room.id, f"{room.name or room.id}, grade {room.grade_tag}", "/rooms")


def parse_utc_local(value: str) -> int:
    """A ``datetime-local`` field's value, read as UTC, in nanoseconds."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise FormProblem(f"{value!r} is not a date and time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return datetime_to_ns(parsed)


def read_request(
    act: Act,
    target_id: str,
    form: FormData,
    meanings: tuple[str, ...],
    max_shelve: float,
    now_ns: int,
) -> SignRequest:
    """The act the form asks for; ``FormProblem`` for a missing or wrong field."""
    meaning = str(form.get("meaning", ""))
    if meaning not in meanings:
        raise FormProblem(f"Choose a meaning: {', '.join(meanings)}.")
    comment = str(form.get("comment", "")).strip()
    if not comment:
        raise FormProblem("A comment is required: say why.")
    duration_s = until_ns = state = None
    if act is Act.SHELVE:
        try:
            duration_s = float(str(form.get("duration", "")))
        except ValueError:
            raise FormProblem("Choose for how long to shelve.") from None
        if not 0 < duration_s <= max_shelve:
            raise FormProblem(f"Shelving lasts at most {age_label(max_shelve)}.")
    if act is Act.OUT_OF_SERVICE and str(form.get("until", "")).strip():
        until_ns = parse_utc_local(str(form.get("until")))
        if until_ns <= now_ns:
            raise FormProblem("'Until' must be in the future.")
    if act is Act.ROOM_STATE:
        state = str(form.get("state", ""))
        if state not in {s.value for s in RoomState}:
            raise FormProblem("Choose the room state: at_rest or in_operation.")
    return SignRequest(act, target_id, meaning, comment, duration_s, until_ns, state)


def _act_of(request: Request) -> Act | None:
    try:
        act = Act(request.path_params["act"])
    except ValueError:
        return None
    return act if act in SIGNED_ACTS else None


def _form(
    request: Request, act: Act, target: Target, values: dict[str, Any], error: str, status: int
) -> Response:
    console = console_of(request)
    max_shelve = max_shelve_s(console)
    fragment = wants_fragment(request)
    context = {
        "act": act.value,
        "title": TITLES[act],
        "target": target,
        "meanings": console.gate.meanings(act),
        "values": values,
        "error": error,
        "shelve_choices": [(s, age_label(s)) for s in SHELVE_CHOICES_S if s <= max_shelve],
        "states": [s.value for s in RoomState],
    }
    return render(request, "_sign_form.html" if fragment else "sign.html", context, status)


async def _prepare(request: Request) -> tuple[Act, Target] | Response:
    console = console_of(request)
    act = _act_of(request)
    if act is None:
        return error_page(request, 404, "Unknown act", "The console cannot sign that.")
    session = session_of(request)
    assert session is not None
    if not console.gate.may(session.role, act):
        return forbidden(request, f"The role {session.role} may not {TITLES[act].lower()}.")
    target_id = request.path_params["target"]
    target = await run_in_threadpool(_target, console, act, target_id)
    if target is None:
        message = f"There is nothing called {target_id} to {TITLES[act].lower()}."
        return error_page(request, 404, "Not found", message)
    if target.problem:
        return error_page(request, 409, TITLES[act], target.problem)
    return act, target


def _for_target(handler: Callable[[Request, Act, Target], Awaitable[Response]]) -> Handler:
    """``handler`` given the act and target the URL names, once the user's role may
    sign that act and the target can take it; else the page saying why not."""

    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        prepared = await _prepare(request)
        if isinstance(prepared, Response):
            return prepared
        return await handler(request, *prepared)

    return wrapper


@signed_in
@_for_target
async def sign_form(request: Request, act: Act, target: Target) -> Response:
    values = {"state": request.query_params.get("state", "")}
    return _form(request, act, target, values, "", 200)


@signed_in
@_for_target
async def sign(request: Request, act: Act, target: Target) -> Response:
    console = console_of(request)
    session = session_of(request)
    assert session is not None and session.user is not None
    form = await request.form()
    values = {k: str(form.get(k, "")) for k in ("meaning", "comment", "duration", "until", "state")}
    try:
        sign_request = read_request(
            act,
            target.id,
            form,
            console.gate.meanings(act),
            max_shelve_s(console),
            console.clock_ns(),
        )
    except FormProblem as exc:
        return _form(request, act, target, values, str(exc), 400)
    password = str(form.get("password", ""))
    if not password:
        return _form(request, act, target, values, "Enter your password to sign.", 400)
    result = await run_in_threadpool(
        console.gate.sign, session.user, password, sign_request, client_of(request)
    )
    if result.outcome is Outcome.DENIED:
        return _form(request, act, target, values, result.message, 403)
    session_id: str = request.state.session_id
    console.sessions.flash(session_id, Flash(result.outcome.value, result.message))
    if request.headers.get("x-csrf-token"):
        return Response(status_code=204, headers={"x-envmon-location": target.back})
    return RedirectResponse(target.back, status_code=303)


routes = [
    Route("/sign/{act}/{target}", sign_form, methods=["GET"]),
    Route("/sign/{act}/{target}", sign, methods=["POST"]),
]
