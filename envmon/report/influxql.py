"""A small InfluxQL client for ``/query``: InfluxDB 1.x, 2.x and 3.x all serve it.

Auth follows ``[influx]``: ``api = "v1"`` sends username/password, ``api =
"v2"`` sends ``Authorization: Token <token>`` with the bucket as database.
Every failure becomes one ``EnvmonError`` naming the URL (and the statement
when the server refused it); an unreachable server is ``ServiceUnavailable``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import urllib3

from envmon.errors import EnvmonError, ServiceUnavailable
from envmon.store.config import InfluxSettings


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a result: its tags and rows as ``{column: value}``."""

    name: str
    tags: Mapping[str, str]
    rows: tuple[Mapping[str, Any], ...]


def quote_ident(name: str) -> str:
    """An InfluxQL identifier in double quotes."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(value: str) -> str:
    """An InfluxQL string literal in single quotes."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class InfluxQLClient:
    """Runs InfluxQL statements against one database; results with ``epoch=ns`` times."""

    def __init__(self, settings: InfluxSettings, pool: urllib3.PoolManager | None = None) -> None:
        self.url = settings.url.rstrip("/")
        self.database = settings.query_database
        self._settings = settings
        self._pool = pool or urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(settings.timeout_s, 5.0), read=120.0),
            retries=urllib3.Retry(total=2, connect=2, read=0, redirect=0, status=0),
        )

    def _auth(self) -> tuple[dict[str, str], dict[str, str]]:
        """Headers and query parameters that carry the configured credentials."""
        s = self._settings
        if s.api == "v2":
            token = s.token.get_secret_value() if s.token is not None else None
            return ({"Authorization": f"Token {token}"} if token else {}), {}
        if s.username is not None:
            # A header, not u=/p= in the URL: URLs end up in proxy and access logs.
            password = s.password.get_secret_value() if s.password is not None else ""
            return urllib3.make_headers(basic_auth=f"{s.username}:{password}"), {}
        return {}, {}

    def query(self, statements: Sequence[str]) -> list[list[Series]]:
        """Run the statements in one request; one list of series per statement, in order."""
        if not statements:
            return []
        headers, params = self._auth()
        fields = {"db": self.database, "epoch": "ns", "q": ";\n".join(statements), **params}
        try:
            # GET: the one method all of 1.x, 2.x and 3.x accept for SELECT on /query.
            response = self._pool.request(
                "GET", f"{self.url}/query", fields=fields, headers=headers
            )
        except urllib3.exceptions.HTTPError as exc:
            raise ServiceUnavailable(
                f"InfluxDB at {self.url} is unreachable: {_reason(exc)}"
            ) from None
        if response.status in (401, 403):
            raise EnvmonError(
                f"InfluxDB at {self.url} refused the credentials (HTTP {response.status}): "
                "check influx.token / influx.username and password"
            )
        body = _decode(response.data, self.url)
        if response.status >= 400:
            message = body.get("error") if isinstance(body, dict) else None
            raise EnvmonError(
                f"InfluxDB at {self.url} answered HTTP {response.status}: {message or 'no detail'}"
            )
        by_id = {r.get("statement_id", i): r for i, r in enumerate(body.get("results", []))}
        out: list[list[Series]] = []
        for index, statement in enumerate(statements):
            result = by_id.get(index, {})
            error = result.get("error")
            if error == "not executed" and len(statements) > 1:
                # InfluxDB 1.x gives no reason when a batch fails as a whole
                # (e.g. an unknown database): run the statement alone to get it.
                self.query([statement])
            if error is not None:
                shown = statement if len(statement) <= 160 else statement[:157] + "..."
                raise EnvmonError(
                    f"InfluxDB at {self.url}, database {self.database!r}: {error} (query: {shown})"
                )
            out.append([_series(s) for s in result.get("series", [])])
        return out


def _series(raw: Mapping[str, Any]) -> Series:
    columns = raw.get("columns", [])
    return Series(
        name=raw.get("name", ""),
        tags=dict(raw.get("tags") or {}),
        rows=tuple(dict(zip(columns, values, strict=False)) for values in raw.get("values", [])),
    )


def _decode(data: bytes, url: str) -> dict[str, Any]:
    try:
        body = json.loads(data or b"{}")
    except ValueError:
        raise EnvmonError(f"InfluxDB at {url} sent a reply that is not JSON") from None
    if not isinstance(body, dict):
        raise EnvmonError(f"InfluxDB at {url} sent an unexpected reply")
    return body


def _reason(exc: urllib3.exceptions.HTTPError) -> str:
    reason = getattr(exc, "reason", None)
    text = str(reason or exc)
    # urllib3 wraps the OS error in layers of repr; the last clause is the useful one.
    return text.rsplit(": ", 1)[-1].strip("')") or type(exc).__name__
