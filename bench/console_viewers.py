"""What keeps the console's live alarm page open during the console phase.

``ChromiumViewer``: Debian's Chromium driven by Playwright, the page as a person
sees it (rendering included, on the same cores as the service).
``StreamViewer``: what the page asks of the console and nothing else: the
server-sent events stream, and on every ``head`` event the alarm list's rows,
as console.js fetches them; no rendering. Running the phase with each tells
the console's own cost from the browser's.
"""

from __future__ import annotations

import http.cookiejar
import re
import threading
import urllib.parse
import urllib.request
from typing import Any, Protocol

ROWS_SELECTOR = "#alarm-list tbody tr"


class Viewer(Protocol):
    def rows(self) -> int:
        """Alarm rows the open page shows now."""
        ...

    def close(self) -> None: ...


class ChromiumViewer:
    def __init__(self, base: str, user: str, password: str) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        self._page: Any = self._browser.new_page()
        self._page.goto(f"{base}/signin")
        self._page.fill("input[name=user]", user)
        self._page.fill("input[name=password]", password)
        self._page.click("button[type=submit]")
        self._page.wait_for_url(f"{base}/alarms")

    def rows(self) -> int:
        return int(self._page.locator(ROWS_SELECTOR).count())

    def close(self) -> None:
        self._browser.close()
        self._playwright.stop()


class StreamViewer:
    """Signs in with a cookie jar, holds ``/events`` open on a thread and fetches
    ``/alarms/rows`` after each change, as the page's script does."""

    def __init__(self, base: str, user: str, password: str) -> None:
        self._base = base
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        form = self._get("/signin").decode()
        found = re.search(r'name="csrf" value="([^"]+)"', form)
        if found is None:
            raise RuntimeError("the sign-in page has no CSRF token")
        fields = {"user": user, "password": password, "csrf": found.group(1)}
        page = self._post("/signin", fields)
        seq = re.search(rb'data-seq="(-?\d+)"', page)
        if seq is None:
            raise RuntimeError("signing in did not lead to the alarm page")
        self._rows = _rows(self._get("/alarms/rows"))
        self._stream = self._opener.open(f"{base}/events?seq={int(seq.group(1))}", timeout=60)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _get(self, path: str) -> bytes:
        with self._opener.open(self._base + path, timeout=30) as response:
            body: bytes = response.read()
        return body

    def _post(self, path: str, fields: dict[str, str]) -> bytes:
        data = urllib.parse.urlencode(fields).encode()
        with self._opener.open(self._base + path, data=data, timeout=30) as response:
            body: bytes = response.read()
        return body

    def _follow(self) -> None:
        try:
            for line in self._stream:
                if line.startswith(b"event: head"):
                    rows = _rows(self._get("/alarms/rows"))
                    with self._lock:
                        self._rows = rows
                elif line.startswith(b"event: expired"):
                    return
        except (OSError, ValueError, AttributeError):
            return  # the stream was closed by close() (http.client drops its file)

    def rows(self) -> int:
        with self._lock:
            return self._rows

    def close(self) -> None:
        self._stream.close()


def _rows(fragment: bytes) -> int:
    return fragment.count(b' data-alarm="')


def open_viewer(kind: str, base: str, user: str, password: str) -> Viewer:
    """``kind`` is "chromium" or "stream"."""
    if kind == "chromium":
        return ChromiumViewer(base, user, password)
    return StreamViewer(base, user, password)
