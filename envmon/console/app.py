"""The console's ASGI application, and ``serve`` for ``envmon console``.

``create_app`` wires the parts (gate, sessions, journal readers, live
watcher) into Starlette with the security middleware in front of every route;
tests hand it a fake gate and clock. ``serve`` opens the real ones and runs
uvicorn on the checked listen address, with TLS when a certificate is given.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from envmon.console import (
    routes_alarms,
    routes_audit,
    routes_auth,
    routes_events,
    routes_plant,
    routes_reports,
    routes_sign,
)
from envmon.console.config import ListenAddress, resolve_listen
from envmon.console.context import STATIC_DIR, Console, ReportMaker
from envmon.console.gate import Gate
from envmon.console.live import HeadWatcher
from envmon.console.security import SecurityMiddleware
from envmon.console.sessions import SessionStore
from envmon.journal.journal import Journal
from envmon.journal.reader import JournalReader
from envmon.settings import Settings

log = logging.getLogger(__name__)


def build_console(
    settings: Settings,
    gate: Gate,
    *,
    tls: bool,
    make_report: ReportMaker | None = None,
    clock_ns: Callable[[], int] = time.time_ns,
    monotonic: Callable[[], float] = time.monotonic,
    poll_interval_s: float = 0.5,
) -> Console:
    """The console's parts over the journal in ``settings.storage.state_dir``."""
    if make_report is None:
        from envmon.report.command import generate

        make_report = generate
    path = settings.storage.journal_path
    journal = Journal(path, readonly=True)
    reader = JournalReader(path)
    return Console(
        settings=settings,
        gate=gate,
        sessions=SessionStore(settings.console.session_idle_s, monotonic),
        journal=journal,
        reader=reader,
        watcher=HeadWatcher(reader.head_seq, poll_interval_s),
        tls=tls,
        make_report=make_report,
        clock_ns=clock_ns,
    )


def create_app(console: Console) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        console.watcher.start()
        try:
            yield
        finally:
            await console.watcher.stop()

    routes: list[Any] = [
        *routes_auth.routes,
        *routes_alarms.routes,
        *routes_sign.routes,
        *routes_plant.routes,
        *routes_audit.routes,
        *routes_reports.routes,
        *routes_events.routes,
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    middleware = [Middleware(SecurityMiddleware, sessions=console.sessions, tls=console.tls)]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.console = console
    return app


def serve(settings: Settings, gate: Gate) -> None:
    """Run the console until SIGINT or SIGTERM."""
    import uvicorn

    listen: ListenAddress = resolve_listen(settings.console, settings.config_path)
    console = build_console(settings, gate, tls=listen.tls)
    app = create_app(console)
    config = uvicorn.Config(
        app,
        host=listen.host,
        port=listen.port,
        ssl_certfile=str(settings.console.cert_file) if listen.tls else None,
        ssl_keyfile=str(settings.console.key_file) if listen.tls else None,
        proxy_headers=False,
        server_header=False,
        log_config=None,
        timeout_graceful_shutdown=3,
    )
    log.info("console listening on %s", listen.url)
    try:
        uvicorn.Server(config).run()
    finally:
        console.close()
