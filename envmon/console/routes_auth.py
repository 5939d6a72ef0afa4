"""Sign-in and sign-out.

Signing in checks the password through the signing path, which journals a
failure and counts it toward lockout. A successful sign-in replaces the
anonymous session that carried the form's CSRF token with a new one, so an id
seen before sign-in is worth nothing after it.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from envmon.console.context import client_of, console_of, render, session_of
from envmon.console.security import cookie_header

NOTICES = {
    "expired": "Your session ended after a time without activity. Sign in again.",
    "revoked": "Your session was ended: your account is disabled or locked.",
    "stale": "The form had expired. Please try again.",
    "out": "You have signed out.",
}


async def sign_in_page(request: Request) -> Response:
    console = console_of(request)
    session = session_of(request)
    if session is not None and session.signed_in:
        return RedirectResponse("/alarms", status_code=303)
    notice = next((text for key, text in NOTICES.items() if key in request.query_params), "")
    if session is not None:
        return render(request, "signin.html", {"notice": notice})
    session_id, session = console.sessions.start()
    request.state.session = session
    response = render(request, "signin.html", {"notice": notice})
    response.headers.append("set-cookie", cookie_header(console.tls, session_id))
    return response


async def sign_in(request: Request) -> Response:
    console = console_of(request)
    form = await request.form()
    user = str(form.get("user", "")).strip()
    password = str(form.get("password", ""))
    if not user or not password:
        return render(
            request,
            "signin.html",
            {"error": "Enter your user name and password.", "user": user},
            400,
        )
    result = await run_in_threadpool(console.gate.sign_in, user, password, client_of(request))
    if result.identity is None:
        return render(request, "signin.html", {"error": result.refusal, "user": user}, 403)
    identity = result.identity
    session_id, _ = console.sessions.sign_in(
        request.state.session_id,
        identity.user,
        identity.full_name,
        identity.role,
        client_of(request),
    )
    response = RedirectResponse("/alarms", status_code=303)
    response.headers.append("set-cookie", cookie_header(console.tls, session_id))
    return response


async def sign_out(request: Request) -> Response:
    console = console_of(request)
    session_id = request.state.session_id
    if session_id is not None:
        console.sessions.end(session_id)
    response = RedirectResponse("/signin?out=1", status_code=303)
    response.headers.append("set-cookie", cookie_header(console.tls, "", max_age=0))
    return response


routes = [
    Route("/signin", sign_in_page, methods=["GET"]),
    Route("/signin", sign_in, methods=["POST"]),
    Route("/signout", sign_out, methods=["POST"]),
]
