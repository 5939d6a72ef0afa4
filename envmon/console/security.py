"""Security middleware: the session of each request, CSRF, and response headers.

CSRF: a synchronizer token kept in the server-side session (``sessions.py``),
sent back in a hidden form field ``csrf`` (or the ``X-CSRF-Token`` header for
the dialog's fetch) and compared in constant time. The check lives here, in
front of every route, so no state-changing route can forget it. We did not
take starlette-csrf: it implements the double-submit cookie, which needs a
second cookie and a signing secret to manage, where a server-side session
already holds a token no cookie can forge. Cross-site requests are also
refused by ``Sec-Fetch-Site`` and ``Origin``, and the session cookie is
``SameSite=Strict``.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final
from urllib.parse import parse_qs

from envmon.console.sessions import Session, SessionStore

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SAFE_METHODS: Final = frozenset({"GET", "HEAD"})
MAX_FORM_BYTES: Final = 64 * 1024
LIVE_HEADER: Final = b"x-envmon-live"
# Requests a page makes by itself: they never count as its user's activity.
LIVE_PATHS: Final = frozenset({"/events", "/session"})
CSRF_FIELD: Final = "csrf"

CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def cookie_name(tls: bool) -> str:
    """``__Host-`` binds the cookie to this host and path, and needs ``Secure``."""
    return "__Host-envmon" if tls else "envmon"


def cookie_header(tls: bool, value: str, max_age: int | None = None) -> str:
    """The ``Set-Cookie`` value for the session id (empty value and 0 to clear)."""
    parts = [f"{cookie_name(tls)}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if tls:
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts)


def security_headers(tls: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-security-policy", CSP.encode()),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-content-type-options", b"nosniff"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"cross-origin-resource-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    ]
    if tls:
        headers.append((b"strict-transport-security", b"max-age=31536000"))
    return headers


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def session_id_of(scope: Scope, tls: bool) -> str | None:
    cookie = _header(scope, b"cookie")
    if not cookie:
        return None
    wanted = cookie_name(tls)
    for part in cookie.split(";"):
        name, _, value = part.strip().partition("=")
        if name == wanted and value:
            return value
    return None


def _cross_site(scope: Scope, tls: bool) -> bool:
    fetch_site = _header(scope, b"sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return True
    origin = _header(scope, b"origin")
    host = _header(scope, b"host")
    # Under Referrer-Policy: no-referrer browsers send "Origin: null" for a
    # form posted from our own page: it tells nothing, Sec-Fetch-Site does.
    if origin is None or origin == "null" or host is None:
        return False
    return origin != f"{'https' if tls else 'http'}://{host}"


class SecurityMiddleware:
    """Finds each request's session (``scope["state"]``), refuses a state-changing
    request without the session's CSRF token, and adds security headers."""

    def __init__(self, app: ASGIApp, sessions: SessionStore, tls: bool) -> None:
        self.app = app
        self.sessions = sessions
        self.tls = tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session_id = session_id_of(scope, self.tls)
        live = _header(scope, LIVE_HEADER) == "1" or scope["path"] in LIVE_PATHS
        session = self.sessions.get(session_id, touch=not live)
        state = scope.setdefault("state", {})
        state["session"] = session
        state["session_id"] = session_id if session is not None else None
        state["had_cookie"] = session_id is not None
        send = self._with_headers(send, scope["path"])
        if scope["method"] not in SAFE_METHODS:
            if session is None and _header(scope, b"x-csrf-token") is None:
                # A form posted after its session ended: nothing is done; the
                # person is sent to sign in again rather than shown an error.
                await _redirect(send, "/signin?stale=1")
                return
            body, refusal = await self._check(scope, receive, session)
            if refusal is not None:
                await _plain(send, 403, refusal)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _check(
        self, scope: Scope, receive: Receive, session: Session | None
    ) -> tuple[bytes, str | None]:
        if _cross_site(scope, self.tls):
            return b"", "refused: a cross-site request cannot change anything here"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_FORM_BYTES:
                return b"", "refused: the form is too large"
            if not message.get("more_body", False):
                break
        token = _header(scope, b"x-csrf-token")
        if token is None:
            content_type = _header(scope, b"content-type") or ""
            if content_type.startswith("application/x-www-form-urlencoded"):
                fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
                token = fields.get(CSRF_FIELD, [None])[0]
        if session is None:
            return b"", "refused: your session has ended; sign in again"
        if not token or not hmac.compare_digest(token.encode(), session.csrf.encode()):
            return b"", "refused: the form's CSRF token is missing or wrong; reload the page"
        return body, None

    def _with_headers(self, send: Send, path: str) -> Send:
        extra = security_headers(self.tls)
        cache = b"no-cache" if path.startswith("/static/") else b"no-store"

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in extra if k not in present]
                if b"cache-control" not in present:
                    headers.append((b"cache-control", cache))
                message["headers"] = headers
            await send(message)

        return wrapped


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then the connection's own messages (its disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _redirect(send: Send, location: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", location.encode()), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode() + b"\n"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
