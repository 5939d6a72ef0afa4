"""What every page handler shares: the console's state, the signed-in user, rendering.

``Console`` holds the process's parts (settings, the signing gate, sessions,
the read-only journal, the live watcher, the facility in force); a
handler reaches it through ``console_of(request)``. ``signed_in`` wraps a
handler so that it runs only for a signed-in user who is still enabled, with
the role the journal gives them now.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from envmon.console.gate import Act, Gate
from envmon.console.in_force import FacilityInForce, Shown
from envmon.console.live import HeadWatcher
from envmon.console.sessions import Session, SessionStore
from envmon.console.views import ParameterWords
from envmon.errors import EnvmonError
from envmon.facility import BUILTIN_PARAMETERS, Facility
from envmon.journal.journal import Journal
from envmon.journal.reader import JournalReader
from envmon.settings import Settings

log = logging.getLogger(__name__)

TEMPLATES_DIR: Final = Path(__file__).with_name("templates")
STATIC_DIR: Final = Path(__file__).with_name("static")

ReportMaker = Callable[..., bytes]
Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class Console:
    """One console process's parts."""

    settings: Settings
    gate: Gate
    sessions: SessionStore
    journal: Journal
    reader: JournalReader
    watcher: HeadWatcher
    tls: bool
    make_report: ReportMaker
    clock_ns: Callable[[], int] = time.time_ns
    templates: Jinja2Templates = field(
        default_factory=lambda: Jinja2Templates(directory=str(TEMPLATES_DIR))
    )
    in_force: FacilityInForce = field(init=False)
    _facility_problem: str = ""

    def __post_init__(self) -> None:
        self.in_force = FacilityInForce(self.journal.configs, Path(self.settings.facility.file))

    def facility_shown(self) -> Shown:
        """The facility the service judges against (its latest journaled load), else
        the file on disk, with the notice the pages showing it carry."""
        return self.in_force.shown()

    def facility(self) -> Facility:
        return self.facility_shown().facility

    def facility_to_name_by(self) -> Facility | None:
        """The facility the alarm pages name things by: the one in force (``facility``),
        else the last one shown, else None.

        The alarm pages must open whatever the facility's state, so a facility that
        cannot be shown now is logged (once per problem) and gives way.
        """
        try:
            facility = self.facility()
        except (EnvmonError, OSError) as exc:
            problem = str(exc)
            if problem != self._facility_problem:
                log.warning("parameters and equipment named as last shown: %s", problem)
            self._facility_problem = problem
            return self.in_force.last_good
        self._facility_problem = ""
        return facility

    def words(self) -> ParameterWords:
        """How pages name parameters and write their values: as the facility in force
        declares them, else the last one shown, else the built-in parameters."""
        facility = self.facility_to_name_by()
        return ParameterWords(facility.parameters if facility is not None else BUILTIN_PARAMETERS)

    def close(self) -> None:
        self.journal.close()
        self.reader.close()


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def session_of(request: Request) -> Session | None:
    session: Session | None = request.state.session
    return session


def client_of(request: Request) -> str:
    """What a signature records as its client: the console and the browser's address."""
    host = request.client.host if request.client else "unknown"
    return f"console {host}"


def is_live(request: Request) -> bool:
    """A fetch the page made by itself (live update), not an act of its user."""
    return request.headers.get("x-envmon-live") == "1"


def render(
    request: Request, template: str, context: Mapping[str, Any] | None = None, status: int = 200
) -> Response:
    """A page with what every template needs: the session, CSRF token, permissions, flash."""
    console = console_of(request)
    session = session_of(request)
    session_id: str | None = request.state.session_id
    flash = None
    if session_id is not None and not is_live(request) and not template.startswith("_"):
        flash = console.sessions.take_flash(session_id)
    role = session.role if session is not None and session.signed_in else ""
    may = {act.value: bool(role) and console.gate.may(role, act) for act in Act}
    ctx = {
        "session": session,
        "csrf": session.csrf if session is not None else "",
        "may": may,
        "flash": flash,
        "path": request.url.path,
        **(context or {}),
    }
    return console.templates.TemplateResponse(request, template, ctx, status_code=status)


def signed_in(handler: Handler) -> Handler:
    """Run ``handler`` only for a signed-in, still-enabled user; else to sign-in."""

    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        console = console_of(request)
        session = session_of(request)
        session_id: str | None = request.state.session_id
        if session is None or not session.signed_in or session_id is None:
            ended = session is None and bool(request.state.had_cookie)
            return _to_sign_in(request, "expired" if ended else "")
        assert session.user is not None
        identity = await run_in_threadpool(console.gate.current, session.user)
        if identity is None:
            # Disabled or locked out since signing in: every session of theirs ends.
            console.sessions.end_user(session.user)
            return _to_sign_in(request, "revoked")
        if (identity.role, identity.full_name) != (session.role, session.full_name):
            console.sessions.update_role(session_id, identity.full_name, identity.role)
            request.state.session = console.sessions.get(session_id, touch=False)
        return await handler(request)

    return wrapper


def _to_sign_in(request: Request, reason: str) -> Response:
    if is_live(request) or request.headers.get("x-csrf-token"):
        return PlainTextResponse("signed out", status_code=401)
    target = "/signin" + (f"?{reason}=1" if reason else "")
    return RedirectResponse(target, status_code=303)


def wants_fragment(request: Request) -> bool:
    """Asked for by the page's dialog, which shows a part, not a whole page."""
    return request.query_params.get("fragment") == "1" or "x-csrf-token" in request.headers


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    template = "_error.html" if wants_fragment(request) else "error.html"
    return render(request, template, {"title": title, "message": message}, status=status)


def forbidden(request: Request, what: str) -> Response:
    """The page saying this role may not do ``what``; nothing was done."""
    return error_page(request, 403, "Not permitted", what)
