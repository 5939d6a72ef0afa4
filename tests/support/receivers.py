"""Local notification receivers for end-to-end tests: a webhook, an SMTP server, and a
subscriber to envmon's retained alarm topics."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import paho.mqtt.client as mqtt
from aiosmtpd.controller import Controller

from tests.support.servers import free_port


class WebhookReceiver(ThreadingHTTPServer):
    """Collects every JSON body POSTed to it."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", free_port()), _WebhookHandler)
        self.bodies: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _WebhookHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        assert isinstance(self.server, WebhookReceiver)
        self.server.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Inbox:
    """Collects every mail an aiosmtpd server on a free port receives."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mails: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.mails.append(message)
        return "250 OK"


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def smtp_inbox() -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


class RetainedWatcher:
    """Every message on ``fac/site1/envmon/alarms/#``: the latest per topic, and all of them."""

    def __init__(self, port: int) -> None:
        self.messages: dict[str, dict[str, Any]] = {}
        self.history: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="alarm-watcher")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("fac/site1/envmon/alarms/#", qos=1)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            payload = json.loads(msg.payload)
            self.messages[msg.topic] = payload
            self.history.append((msg.topic, payload))

    def get(self, topic: str) -> dict[str, Any] | None:
        with self.lock:
            return self.messages.get(topic)

    def seen(self, topic: str) -> list[dict[str, Any]]:
        """Every payload published on ``topic`` so far, in order."""
        with self.lock:
            return [p for t, p in self.history if t == topic]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
