"""``/events``: server-sent events telling an open page that the journal changed.

A page subscribes with the journal head it was drawn from (``?seq=``); it gets
``head`` with the new seq whenever the journal changes, and fetches the parts
it shows. The stream checks its session every tick without counting as
activity, and says ``expired`` when the session has ended, so an unattended
screen signs out on time.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from envmon.console.context import Console, console_of, session_of

TICK_S: Final = 1.0
USER_CHECK_S: Final = 5.0
KEEPALIVE_S: Final = 15.0


async def _stream(console: Console, request: Request, since: int) -> AsyncIterator[str]:
    session_id: str = request.state.session_id
    user = session_of(request).user  # type: ignore[union-attr]
    assert user is not None
    yield "retry: 2000\n\n"
    last_seq = since
    last_sent = last_check = time.monotonic()
    async for seq in console.watcher.changes(since, TICK_S):
        now = time.monotonic()
        if console.sessions.get(session_id, touch=False) is None:
            yield "event: expired\ndata: signed out\n\n"
            return
        if now - last_check >= USER_CHECK_S:
            last_check = now
            if await run_in_threadpool(console.gate.current, user) is None:
                console.sessions.end_user(user)
                yield "event: expired\ndata: signed out\n\n"
                return
        if seq != last_seq:
            last_seq = seq
            last_sent = now
            yield f"event: head\ndata: {seq}\n\n"
        elif now - last_sent >= KEEPALIVE_S:
            last_sent = now
            yield ": keepalive\n\n"


async def events(request: Request) -> Response:
    session = session_of(request)
    if session is None or not session.signed_in:
        return PlainTextResponse("signed out", status_code=401)
    seq_text = request.query_params.get("seq", "")
    since = int(seq_text) if seq_text.isdigit() else -1
    return StreamingResponse(
        _stream(console_of(request), request, since),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


async def session_state(request: Request) -> Response:
    """204 while signed in, 401 after; not counted as activity (the page asks by itself)."""
    session = session_of(request)
    if session is None or not session.signed_in:
        return PlainTextResponse("signed out", status_code=401)
    return Response(status_code=204)


routes = [Route("/events", events), Route("/session", session_state)]
