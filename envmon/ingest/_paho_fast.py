"""paho-mqtt's client with less work per message: buffered reads, a lean PUBLISH path,
batched PUBACKs.

paho reads each packet with three or more ``recv`` calls (command byte, each
length byte, body) and goes back to ``select`` after every packet; it sends
each PUBACK as its own write. Each of those calls releases and retakes the
GIL, which the alarm and store threads are waiting for.

``BufferedClient`` changes only how bytes move, not the protocol: it reads the
socket in chunks and serves paho's small reads from the chunk, and its
``loop_read`` keeps going until the chunk is used up (data left in a buffer
would not wake ``select``). A chunk is one ``recv`` of up to
``RECV_CHUNK_BYTES``, which returns all that is there: over TLS too, as the
client runs ``_tls_bio.MemoryTls`` instead of paho's ``SSLSocket`` (which
returns one TLS record per ``recv``, and Mosquitto writes one record per
packet). A burst is framed and handed on as one batch, and nothing waits for
more to arrive.

``loop_read`` reads at most one chunk: a packet cut at the end of a chunk
waits for the next round of paho's loop, and the loop writes what is queued
(PUBACKs, alarm messages) in between, so a steady inflow can never starve the
outgoing side. ``queue_pubacks`` queues many PUBACKs as one packet write.

The QoS 0/1 PUBLISH packets (with a valid UTF-8 topic) that sit whole in the
chunk are framed here all in one loop (``split_publishes``) and go straight,
as one list of ``Delivery`` per chunk, to ``on_publishes_received``. paho
would take a round of its ``loop_read``, byte-at-a-time reads and packet
dispatch for each, then build a ``Properties`` object and an ``MQTTMessage``
and match the topic against its per-topic callbacks. envmon needs none of
that (it subscribes at QoS 1, sets no per-topic callback and uses no PUBLISH
property). Any other whole packet is framed in one step and handed to paho's
dispatch (a PUBLISH that came in pieces over several reads is then delivered
the same lean way); any PUBLISH this path does not take (QoS 2, a bad topic, a
malformed packet) goes through paho's own code unchanged.

All of this overrides or calls private paho members (``PRIVATE_NAMES``), which
paho changes between minor releases (2.1 has no ``MalformedPacket`` and calls
the keepalive clock ``_last_msg_in``). It is verified against paho-mqtt 2.2
only: ``supported()`` is true for a paho version in ``VERIFIED_PAHO`` that has
every one of those names, and ``MqttSource`` uses plain paho otherwise.
"""

from __future__ import annotations

import functools
import re
import socket
from collections.abc import Callable
from typing import Any, Final

import paho.mqtt as paho_package
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from envmon.ingest._mqtt_frames import (
    PUBACK,
    Delivery,
    frame,
    parse_publish,
    puback_packets,
    split_publishes,
)
from envmon.ingest._tls_bio import MemoryTls

RECV_CHUNK_BYTES: Final = 16 * 1024

PublishesReceived = Callable[[list[Delivery]], None]
"""Called with the ``Delivery`` of one or more PUBLISHes, in order; must not raise."""


VERIFIED_PAHO: Final = ((2, 2), (2, 3))
"""paho-mqtt versions ``>= 2.2, < 2.3``: where ``BufferedClient`` was checked
against paho's source and its differential tests (tests/unit/test_paho_fast.py)."""
PRIVATE_NAMES: Final = (
    # methods overridden or called
    "_sock_recv",
    "_packet_read",
    "_packet_handle",
    "_handle_publish",
    "_packet_queue",
    "_ssl_wrap_socket",
    "_loop_rc_handle",
    # state read or written
    "_sock",
    "_in_packet",
    "_protocol",
    "_msgtime_mutex",
    "_last_bytes_received",
    "_ssl_context",
    "_host",
    "_connect_timeout",
)
"""The private members of ``paho.Client`` that ``BufferedClient`` relies on
(besides ``paho.mqtt.client.MalformedPacket`` and ``time_func``)."""


def paho_version() -> str:
    """The version of the paho-mqtt that is imported."""
    return str(getattr(paho_package, "__version__", "unknown"))


def version_verified(version: str) -> bool:
    """Whether ``version`` (e.g. ``"2.2.0"``) lies in ``VERIFIED_PAHO``."""
    match = re.match(r"(\d+)\.(\d+)", version)
    if match is None:
        return False
    low, high = VERIFIED_PAHO
    return low <= (int(match[1]), int(match[2])) < high


@functools.cache
def supported() -> bool:
    """Whether ``BufferedClient`` may run on the imported paho: a verified version
    that has every private name it uses."""
    if not version_verified(paho_version()):
        return False
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="envmon-probe")
    return all(hasattr(client, name) for name in PRIVATE_NAMES) and all(
        hasattr(paho, name) for name in ("MalformedPacket", "time_func")
    )


class BufferedClient(paho.Client):
    """A ``paho.Client`` that reads in chunks and can queue PUBACKs in bulk."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = bytearray()
        self._rbuf_sock: object = None
        self._may_recv = True
        self.on_publishes_received: PublishesReceived | None = None
        """Set to take QoS 0/1 PUBLISH packets past paho's MQTTMessage path."""

    def _buffer(self) -> bytearray:
        buf = self._rbuf
        if self._rbuf_sock is not self._sock:
            # A new connection: bytes of the old one must never be parsed.
            buf.clear()
            self._rbuf_sock = self._sock
        return buf

    def _fill(self) -> None:
        """This round's one chunk, before paho starts on a packet: its packets are
        then framed here, the first one included. On anything but data (would
        block, closed, an error) paho's own read meets the same condition next."""
        buf = self._buffer()
        if buf or not self._may_recv:
            return
        try:
            data = super()._sock_recv(RECV_CHUNK_BYTES)
        except OSError:
            return
        if data:
            self._may_recv = False
            buf += data

    def _sock_recv(self, bufsize: int) -> bytes:
        buf = self._buffer()
        if not buf:
            if not self._may_recv:
                raise BlockingIOError  # paho keeps the partial packet for the next round
            self._may_recv = False
            data = super()._sock_recv(RECV_CHUNK_BYTES)
            if len(data) <= bufsize:
                return data  # includes b"" (connection closed)
            buf += data
        out = bytes(buf[:bufsize])
        del buf[:bufsize]  # O(1) at the front of a bytearray
        return out

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        # paho reads one packet per call; go on while bytes wait in the buffer,
        # where select() cannot see them.
        self._may_recv = True
        rc = super().loop_read(max_packets)
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._sock is not None and self._rbuf:
            rc = super().loop_read(max_packets)
        return rc

    def _packet_read(self) -> MQTTErrorCode:
        """Deliver the buffered PUBLISHes in one go, else frame one whole packet for paho."""
        if self._in_packet["command"] != 0:
            return super()._packet_read()  # paho is partway through a packet
        self._fill()
        buf = self._rbuf
        if not buf:
            return super()._packet_read()
        if self._deliver_buffered():
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        framed = frame(buf, 0)
        if framed is None:
            return super()._packet_read()  # not all here yet, or malformed: paho's
        start, end = framed
        packet = self._in_packet
        packet["command"] = buf[0]
        packet["have_remaining"] = 1
        packet["remaining_length"] = end - start
        packet["packet"] = buf[start:end]
        del buf[:end]
        try:
            rc = self._packet_handle()
        except paho.MalformedPacket:
            rc = MQTTErrorCode.MQTT_ERR_PROTOCOL
        packet["command"] = 0
        packet["have_remaining"] = 0
        packet["remaining_length"] = 0
        packet["packet"] = bytearray()
        self._touch()
        return rc

    def _deliver_buffered(self) -> bool:
        """Hand every whole QoS 0/1 PUBLISH at the buffer's front, as one list, to
        ``on_publishes_received``; False when the first packet is not one."""
        deliver = self.on_publishes_received
        if deliver is None:
            return False
        buf = self._rbuf
        deliveries, used = split_publishes(buf, self._mqtt5)
        if not used:
            return False
        del buf[:used]
        deliver(deliveries)
        self._touch()
        return True

    def _touch(self) -> None:
        """What paho does after each packet read: the keepalive clock."""
        with self._msgtime_mutex:
            self._last_bytes_received = paho.time_func()

    def _handle_publish(self) -> MQTTErrorCode:
        """A PUBLISH that paho framed itself (it came in pieces): the same lean path."""
        deliver = self.on_publishes_received
        if deliver is not None:
            packet = self._in_packet
            body = packet["packet"]
            parsed = parse_publish(packet["command"], body, self._mqtt5)
            if parsed is not None:
                deliver([parsed])
                return MQTTErrorCode.MQTT_ERR_SUCCESS
        return super()._handle_publish()  # paho reports what is wrong with it

    @property
    def _mqtt5(self) -> bool:
        return self._protocol == MQTTProtocolVersion.MQTTv5

    def _ssl_wrap_socket(self, tcp_sock: socket.socket) -> MemoryTls:  # type: ignore[override]
        """TLS decrypted from memory (``_tls_bio``): one ``recv`` for a burst of records."""
        context = self._ssl_context
        if context is None:
            raise ValueError("TLS requested without an SSL context")
        tls = MemoryTls(tcp_sock, context, server_hostname=self._host)
        tcp_sock.settimeout(self._connect_timeout)
        tls.do_handshake()  # the context checks the certificate and, unless insecure, the host
        return tls

    def want_write(self) -> bool:
        """Also while TLS records of a packet paho counts as written wait for the kernel."""
        sock = self._sock
        return super().want_write() or (isinstance(sock, MemoryTls) and bool(sock.unsent))

    def loop_write(self) -> MQTTErrorCode:
        sock = self._sock
        if isinstance(sock, MemoryTls) and sock.unsent:
            try:
                sock.flush()
            except OSError:
                return self._loop_rc_handle(MQTTErrorCode.MQTT_ERR_CONN_LOST)  # as paho's write
        return super().loop_write()

    def queue_pubacks(self, mids: list[int]) -> None:
        """Queue PUBACKs for ``mids`` (QoS 1, in this order) as one packet; any thread.

        paho writes it on the calling thread unless the network loop is paho's
        own thread or ``on_socket_register_write`` is set (``MqttSource`` sets it).
        """
        if mids:
            self._packet_queue(PUBACK, puback_packets(mids), 0, 0)
