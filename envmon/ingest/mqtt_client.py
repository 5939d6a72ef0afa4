"""The paho client envmon runs (``[mqtt] reader``), set up for one writer per socket.

``new_client`` picks ``_paho_fast.BufferedClient`` or plain ``paho.Client``,
logs which (with paho's version), and sets up what does not depend on
``MqttSource``'s callbacks: credentials, TLS, an unbounded outgoing queue, the
socket send buffer, and the write watcher that keeps every write on the
network thread.

One writer: paho's ``_packet_queue`` writes a packet on the caller's thread
when no paho thread runs the loop (``MqttSource`` runs it) and no
``on_socket_register_write`` callback is set. With the callback set it only
queues the packet and wakes the loop through its socket pair; the loop
writes. This holds for paho-mqtt 2.1 and 2.2, for both clients.
"""

from __future__ import annotations

import logging
import socket
import ssl
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from envmon.errors import ConfigError
from envmon.ingest import _paho_fast
from envmon.ingest.config import MqttSettings

log = logging.getLogger("envmon.ingest")


def new_client(settings: MqttSettings) -> paho.Client:
    """A client for ``settings``, not connected; raises ``ConfigError`` for
    ``reader = "buffered"`` on a paho-mqtt it was not verified against."""
    s = settings
    buffered = use_buffered(s.reader)
    log.info(
        "MQTT client: %s, paho-mqtt %s",
        "buffered reader (envmon.ingest._paho_fast)" if buffered else "plain paho",
        _paho_fast.paho_version(),
    )
    if s.read_coalesce_s is not None:
        log.warning(
            "[mqtt] read_coalesce_s is no longer used and is ignored "
            "(reads are batched without waiting); remove it from the settings"
        )
    client_class = _paho_fast.BufferedClient if buffered else paho.Client
    client = client_class(
        CallbackAPIVersion.VERSION2,
        client_id=s.client_id,
        protocol=paho.MQTTv5,
        reconnect_on_failure=False,
        manual_ack=True,
    )
    if s.username is not None:
        password = s.password.get_secret_value() if s.password is not None else None
        client.username_pw_set(s.username, password)
    if s.tls or s.ca_file is not None or s.cert_file is not None:
        client.tls_set(
            ca_certs=str(s.ca_file) if s.ca_file else None,
            certfile=str(s.cert_file) if s.cert_file else None,
            keyfile=str(s.key_file) if s.key_file else None,
            cert_reqs=ssl.CERT_REQUIRED,
        )
    client.max_queued_messages_set(0)
    client.on_socket_register_write = _no_write_watch
    if s.socket_send_buffer_bytes is not None:
        client.on_socket_open = _SendBuffer(s.socket_send_buffer_bytes, f"{s.host}:{s.port}")
    return client


def use_buffered(reader: str) -> bool:
    """Whether ``[mqtt] reader`` means the buffered client on this paho-mqtt."""
    if reader == "paho":
        return False
    if reader == "buffered" and not _paho_fast.supported():
        low, high = _paho_fast.VERIFIED_PAHO
        raise ConfigError(
            f'[mqtt] reader = "buffered": envmon\'s buffered reader is verified for '
            f"paho-mqtt >= {low[0]}.{low[1]}, < {high[0]}.{high[1]}, and "
            f"{_paho_fast.paho_version()} is installed; "
            'set reader = "auto" or "paho", or install a verified paho-mqtt'
        )
    return _paho_fast.supported()


def _no_write_watch(client: paho.Client, userdata: Any, sock: Any) -> None:
    """``on_socket_register_write``: nothing to register; the loop selects for writing."""


class _SendBuffer:
    """``on_socket_open``: sets SO_SNDBUF on each new connection and logs what the
    kernel made of it (Linux doubles the value asked for)."""

    __slots__ = ("size", "where")

    def __init__(self, size: int, where: str) -> None:
        self.size = size
        self.where = where

    def __call__(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.size)
            actual = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        except OSError as exc:
            log.warning("MQTT %s: cannot set the socket send buffer: %s", self.where, exc)
            return
        log.info("MQTT %s: socket send buffer %d bytes", self.where, actual)
