"""The audit trail, filtered by kind, subject, user and time (UTC), newest first."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from envmon.console.context import Console, console_of, render, signed_in
from envmon.console.entries import entry_view
from envmon.console.routes_sign import FormProblem, parse_utc_local
from envmon.journal.reader import AuditFilter

PAGE = 200
FIELDS = ("kind", "subject", "user", "from", "to")


def _filter(params: dict[str, str], before: int | None) -> AuditFilter:
    """The filter the form asks for; ``FormProblem`` for a time it cannot read."""
    times: dict[str, int | None] = {}
    for key in ("from", "to"):
        try:
            times[key] = parse_utc_local(params[key]) if params[key] else None
        except FormProblem as exc:
            raise FormProblem(f"{key}: {exc}") from None
    return AuditFilter(
        kind=params["kind"] or None,
        subject=params["subject"] or None,
        user=params["user"] or None,
        from_ns=times["from"],
        to_ns=times["to"],
        before_seq=before,
        limit=PAGE,
    )


def _context(console: Console, request: Request) -> dict[str, Any]:
    params = {k: request.query_params.get(k, "").strip() for k in FIELDS}
    before_text = request.query_params.get("before", "")
    before = int(before_text) if before_text.isdigit() else None
    kinds = console.reader.kinds()
    prefixes = sorted({k.split(".")[0] + "." for k in kinds if "." in k})
    context: dict[str, Any] = {"params": params, "kinds": prefixes + kinds, "error": ""}
    try:
        where = _filter(params, before)
    except FormProblem as exc:
        return {**context, "entries": [], "error": str(exc), "older": ""}
    words = console.words()
    entries = [entry_view(e, words) for e in console.reader.audit(where)]
    older = ""
    if len(entries) == PAGE:
        older = "?" + urlencode({**params, "before": entries[-1].seq})
    return {**context, "entries": entries, "older": older}


@signed_in
async def audit(request: Request) -> Response:
    context = await run_in_threadpool(_context, console_of(request), request)
    return render(request, "audit.html", context, 400 if context["error"] else 200)


routes = [Route("/audit", audit)]
