"""Webhook notifications reach a real local HTTP server, with retries."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from envmon.facility import BUILTIN_PARAMETERS
from envmon.notify import Dispatcher, NotifyError, build_notifiers
from envmon.notify.config import NotifySettings, WebhookSettings
from envmon.notify.webhook import WebhookNotifier
from tests.support.journal_samples import T0, S, alarm, cleared, raised
from tests.support.servers import free_port

pytestmark = pytest.mark.integration


class Receiver(ThreadingHTTPServer):
    """Records each POST; answers with the scripted statuses, then 204."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.posts: list[dict[str, Any]] = []
        self.attempts = 0
        self.content_types: list[str] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/envmon"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        data = self.rfile.read(length)
        self.server.attempts += 1
        status = self.server.statuses.pop(0) if self.server.statuses else 204
        if status < 300:
            self.server.posts.append(json.loads(data))
            self.server.content_types.append(self.headers["Content-Type"])
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver_factory() -> Iterator[Any]:
    servers: list[Receiver] = []

    def make(statuses: list[int] | None = None) -> Receiver:
        server = Receiver(statuses or [])
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


class TestWebhook:
    def test_post_carries_the_event(self, receiver_factory: Any) -> None:
        """One POST with JSON transition, time, alarm object and excursion."""
        receiver = receiver_factory()
        ev = raised(alarm("A1"))
        WebhookNotifier(WebhookSettings(url=receiver.url)).send(ev)
        (post,) = receiver.posts
        assert post["transition"] == "raised"
        assert post["alarm"] == ev.alarm.to_json()
        assert post["excursion"]["end"] is None
        assert receiver.content_types == ["application/json; charset=utf-8"]

    def test_server_error_is_a_notify_error(self, receiver_factory: Any) -> None:
        """A 5xx answer is one NotifyError with the status."""
        receiver = receiver_factory([503])
        with pytest.raises(NotifyError, match="HTTP 503"):
            WebhookNotifier(WebhookSettings(url=receiver.url)).send(raised(alarm()))

    def test_unreachable_is_a_notify_error(self) -> None:
        """Nothing listening is one NotifyError, not a traceback."""
        url = f"http://127.0.0.1:{free_port()}/x"
        with pytest.raises(NotifyError, match="cannot reach the server"):
            WebhookNotifier(WebhookSettings(url=url, timeout_s=2)).send(raised(alarm()))

    def test_failing_twice_then_succeeding_is_retried(self, receiver_factory: Any) -> None:
        """Through the dispatcher, a webhook answering 500 twice gets the event on the third try,
        and later events follow in order."""
        receiver = receiver_factory([500, 500])
        settings = NotifySettings(
            webhooks=[WebhookSettings(url=receiver.url, retries=3, timeout_s=5)],
            retry_initial_s=0.05,
            retry_max_s=0.2,
        )
        dispatcher = Dispatcher(build_notifiers(settings, lambda: BUILTIN_PARAMETERS), settings)
        dispatcher.start()
        a = alarm("A1")
        dispatcher.submit([raised(a)])
        dispatcher.submit([cleared(a, T0 + 60 * S)])
        assert dispatcher.flush(20)
        dispatcher.stop(2)
        assert receiver.attempts == 4
        assert [p["transition"] for p in receiver.posts] == ["raised", "cleared"]
        assert dispatcher.stats()[f"webhook {receiver.url}"].delivered == 2
