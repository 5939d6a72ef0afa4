"""InfluxDB writers: one contract, two APIs, errors sorted where they meet the server.

A writer knows only its protocol. Batching, retry timing and the spool live
in ``pipeline.DurableWriter``; a writer answers each write with an
``Outcome`` and never raises for server or network trouble:

- ``OK``: every point is stored.
- ``RETRY``: nothing was (or may not have been) stored, and trying again later
  can succeed: connection errors, timeouts, 429, 5xx, and configuration
  trouble that an operator can fix without losing data (401, 403, 404).
- ``TOO_LARGE``: 413; the caller splits the batch.
- ``REJECT``: the server refuses the data itself (400, 422 and other 4xx,
  including InfluxDB 1.x ``partial write``); ``reason`` has its message.
  Retrying the same bytes cannot help.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlencode

import urllib3

from envmon.store.config import InfluxSettings

if TYPE_CHECKING:
    from influxdb_client.rest import ApiException

log = logging.getLogger(__name__)

_MAX_REASON_CHARS = 500


class Outcome(Enum):
    OK = "ok"
    RETRY = "retry"
    REJECT = "reject"
    TOO_LARGE = "too_large"


@dataclass(frozen=True)
class WriteResult:
    outcome: Outcome
    reason: str = ""
    status: int | None = None


WRITTEN = WriteResult(Outcome.OK)


class InfluxWriter(Protocol):
    """Writes one body of line protocol (nanosecond timestamps)."""

    description: str

    def write(self, body: bytes) -> WriteResult:
        """Never raises for server or network errors."""
        ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...


def classify(status: int, message: str) -> WriteResult:
    """The outcome of an HTTP status from a write endpoint (Telegraf's sorting)."""
    message = _short(message)
    if 200 <= status < 300:
        return WRITTEN
    if status == 413:
        return WriteResult(Outcome.TOO_LARGE, f"HTTP 413: {message}", status)
    if status == 429 or status >= 500:
        return WriteResult(Outcome.RETRY, f"HTTP {status}: {message}", status)
    if status in (401, 403, 404):
        # Wrong credentials, bucket or URL: the data is fine, the set-up is not.
        # Spool and retry, so an operator's fix brings everything in.
        return WriteResult(
            Outcome.RETRY, f"HTTP {status} (check url, credentials, bucket): {message}", status
        )
    return WriteResult(Outcome.REJECT, f"HTTP {status}: {message}", status)


def _short(message: str) -> str:
    message = " ".join(message.split())
    try:
        decoded = json.loads(message)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict):
        message = str(decoded.get("error") or decoded.get("message") or message)
    return message[:_MAX_REASON_CHARS]


def _unreachable(description: str, exc: BaseException) -> WriteResult:
    return WriteResult(Outcome.RETRY, f"{description} unreachable: {type(exc).__name__}: {exc}")


class V1Writer:
    """InfluxDB 1.x: POST line protocol to ``/write?db=…&precision=ns``."""

    def __init__(self, settings: InfluxSettings) -> None:
        self._base = settings.url.rstrip("/")
        self._database = settings.database
        self.description = f"InfluxDB v1 {self._base} db={self._database}"
        self._write_url = f"{self._base}/write?" + urlencode(
            {"db": self._database, "precision": "ns"}
        )
        self._headers = {"Content-Type": "text/plain; charset=utf-8"}
        if settings.username is not None:
            password = settings.password.get_secret_value() if settings.password else ""
            self._headers.update(urllib3.make_headers(basic_auth=f"{settings.username}:{password}"))
        timeout = urllib3.Timeout(connect=min(settings.timeout_s, 5.0), read=settings.timeout_s)
        # retries=False: the pipeline owns retry timing, and an outage must show at once.
        self._http = urllib3.PoolManager(maxsize=2, timeout=timeout, retries=False)
        self._created_database = False

    def write(self, body: bytes) -> WriteResult:
        result = self._post(body)
        if result.status == 404 and "database not found" in result.reason:
            if self._created_database:
                return result
            created = self._create_database()
            if created is not None:
                log.error("%s: %s", self.description, created)
                return WriteResult(Outcome.RETRY, created, 404)
            self._created_database = True
            result = self._post(body)
        return result

    def _post(self, body: bytes) -> WriteResult:
        try:
            resp = self._http.request(
                "POST", self._write_url, body=body, headers=self._headers, preload_content=True
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return _unreachable(self.description, exc)
        return classify(resp.status, resp.data.decode("utf-8", errors="replace"))

    def _create_database(self) -> str | None:
        """Create the database once; None on success, else why not."""
        log.warning("%s: database not found, creating it", self.description)
        query = f'CREATE DATABASE "{quote_identifier(self._database)}"'
        headers = dict(self._headers)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            resp = self._http.request(
                "POST", f"{self._base}/query", body=urlencode({"q": query}), headers=headers
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return f"database {self._database!r} not found and cannot be created: {exc}"
        text = resp.data.decode("utf-8", errors="replace")
        if resp.status != 200 or '"error"' in text:
            return (
                f"database {self._database!r} not found and CREATE DATABASE failed "
                f"(HTTP {resp.status}: {_short(text)}); readings are spooled until it exists"
            )
        return None

    def ping(self) -> bool:
        try:
            return self._http.request("GET", f"{self._base}/ping").status == 204
        except (urllib3.exceptions.HTTPError, OSError):
            return False

    def close(self) -> None:
        self._http.clear()


def quote_identifier(name: str) -> str:
    """An InfluxQL double-quoted identifier's content."""
    return name.replace("\\", "\\\\").replace('"', '\\"')


class V2Writer:
    """``/api/v2/write`` through influxdb-client's synchronous write API."""

    def __init__(self, settings: InfluxSettings) -> None:
        self._bucket = settings.bucket
        self._org = settings.org
        self.description = (
            f"InfluxDB v2 {settings.url.rstrip('/')} bucket={self._bucket} org={self._org}"
        )
        token = settings.token.get_secret_value() if settings.token else None
        if token is None and settings.username is not None:
            # InfluxDB 1.8's v2 compatibility API takes "user:password" as token.
            password = settings.password.get_secret_value() if settings.password else ""
            token = f"{settings.username}:{password}"
        # Imported here: influxdb-client costs ~35 MB of memory, which api = "v1" never needs.
        from influxdb_client import InfluxDBClient, WritePrecision
        from influxdb_client.client.write_api import SYNCHRONOUS
        from influxdb_client.rest import ApiException

        self._api_exception: type[ApiException] = ApiException
        self._precision = WritePrecision.NS
        self._client = InfluxDBClient(
            url=settings.url,
            token=token or "",
            org=self._org,
            timeout=int(settings.timeout_s * 1000),
            retries=False,  # our pipeline owns retry timing
            enable_gzip=False,
        )
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, body: bytes) -> WriteResult:
        try:
            self._write_api.write(
                bucket=self._bucket,
                org=self._org,
                record=body,
                # The library's annotation says WritePrecision; its constants are str.
                write_precision=self._precision,  # type: ignore[arg-type]
            )
        except self._api_exception as exc:
            if exc.status is None or exc.status == 0:
                return _unreachable(self.description, exc)
            return classify(int(exc.status), str(exc.body or exc.reason or ""))
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return _unreachable(self.description, exc)
        return WRITTEN

    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except Exception:  # noqa: BLE001 - ping answers a yes/no question
            return False

    def close(self) -> None:
        self._write_api.close()
        self._client.close()


def make_writer(settings: InfluxSettings) -> InfluxWriter:
    """The writer for ``influx.api``."""
    if settings.api == "v1":
        return V1Writer(settings)
    return V2Writer(settings)


__all__ = [
    "InfluxWriter",
    "Outcome",
    "V1Writer",
    "V2Writer",
    "WriteResult",
    "classify",
    "make_writer",
]
