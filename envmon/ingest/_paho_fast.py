"""paho-mqtt's client with less work per message: buffered reads, a lean PUBLISH path,
batched PUBACKs.

paho reads each packet with three or more ``recv`` calls (command byte, each
length byte, body) and goes back to ``select`` after every packet; it sends
each PUBACK as its own TCP write after waking its network thread. Each of
those calls releases and retakes the GIL, which the alarm and store threads
are waiting for. On a 2-core VM, removing them raised envmon's full-rate
ingest by about a third (bench/README.md).

``BufferedClient`` changes only how bytes move, not the protocol: it reads the
socket in chunks and serves paho's small reads from the chunk, and its
``loop_read`` keeps going until the chunk is used up (data left in a buffer
would not wake ``select``). It reads the socket at most once per
``loop_read``: a packet cut at the end of a chunk waits for the next round of
paho's loop, which first writes what is queued (PUBACKs, alarm messages), so
a steady inflow can never starve the outgoing side. ``queue_pubacks`` sends
many PUBACKs as one write.

Once a whole packet sits in the chunk, it is framed here in one step instead
of paho's byte-at-a-time reads. An incoming QoS 0/1 PUBLISH with a valid
UTF-8 topic then goes straight to ``on_publish_received(topic, payload, mid,
qos)``: paho would build a ``Properties`` object, an ``MQTTMessage`` and match
the topic against its per-topic callbacks for each one, about half of the
network thread's CPU per reading at 1 000 readings/s (bench/README.md).
envmon needs none of that (it subscribes at QoS 1, sets no per-topic callback
and uses no PUBLISH property). Every other packet, and any PUBLISH this path
does not take (QoS 2, a bad topic, a malformed packet), goes through paho's
own code unchanged.

All of this relies on private paho members (``_sock_recv``, ``_packet_read``,
``_in_packet``, ``_packet_handle``, ``_handle_publish``, ``_packet_queue``),
stable since paho-mqtt 1.x; ``supported()`` says whether they are there, and
``MqttSource`` falls back to the plain client when not.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import Any, Final

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion

RECV_CHUNK_BYTES: Final = 16 * 1024
# PUBACK with remaining length 2: packet id only, reason "success" implied
# (MQTT 5 §3.4.2.1), the same bytes paho's own ack() sends.
_PUBACK: Final = int(paho.PUBACK)
_PUBACK_PACKET: Final = struct.Struct("!BBH")
_PUBLISH: Final = int(paho.PUBLISH)

PublishReceived = Callable[[str, bytes, int, int], None]
"""``(topic, payload, mid, qos)`` of an incoming PUBLISH; must not raise."""


def supported() -> bool:
    """Whether this paho version has the private methods ``BufferedClient`` uses."""
    return all(
        hasattr(paho.Client, name)
        for name in (
            "_sock_recv",
            "_packet_queue",
            "_packet_read",
            "_packet_handle",
            "_handle_publish",
        )
    )


def puback_packets(mids: Iterable[int]) -> bytes:
    """PUBACKs for ``mids``, in order, as one byte string."""
    pack = _PUBACK_PACKET.pack
    return b"".join(pack(_PUBACK, 2, mid) for mid in mids)


class BufferedClient(paho.Client):
    """A ``paho.Client`` that reads in chunks and can queue PUBACKs in bulk."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = bytearray()
        self._rbuf_sock: object = None
        self._may_recv = True
        self.on_publish_received: PublishReceived | None = None
        """Set to take QoS 0/1 PUBLISH packets past paho's MQTTMessage path."""
        self.on_read_done: Callable[[], None] | None = None
        """Called after each socket read's packets are handled (must not raise)."""

    def _sock_recv(self, bufsize: int) -> bytes:
        buf = self._rbuf
        if self._rbuf_sock is not self._sock:
            # A new connection: bytes of the old one must never be parsed.
            buf.clear()
            self._rbuf_sock = self._sock
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
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._rbuf and self._sock is not None:
            rc = super().loop_read(max_packets)
        if self.on_read_done is not None:
            self.on_read_done()
        return rc

    def _packet_read(self) -> MQTTErrorCode:
        """Frame a whole buffered packet at once; anything else is paho's."""
        buf = self._rbuf
        have = len(buf)
        if have < 2 or self._in_packet["command"] != 0 or self._rbuf_sock is not self._sock:
            return super()._packet_read()
        remaining, mult, pos = 0, 1, 1
        while True:
            if pos >= have or pos > 4:
                return super()._packet_read()  # length not all here, or malformed: paho's
            byte = buf[pos]
            remaining += (byte & 127) * mult
            mult <<= 7
            pos += 1
            if not byte & 128:
                break
        end = pos + remaining
        if end > have:
            return super()._packet_read()
        packet = self._in_packet
        packet["command"] = buf[0]
        packet["have_remaining"] = 1
        packet["remaining_length"] = remaining
        packet["packet"] = buf[pos:end]
        del buf[:end]
        try:
            rc = self._packet_handle()
        except paho.MalformedPacket:
            rc = MQTTErrorCode.MQTT_ERR_PROTOCOL
        packet["command"] = 0
        packet["have_remaining"] = 0
        packet["remaining_length"] = 0
        packet["packet"] = bytearray()
        with self._msgtime_mutex:
            self._last_bytes_received = paho.time_func()
        return rc

    def _handle_publish(self) -> MQTTErrorCode:
        deliver = self.on_publish_received
        command = self._in_packet["command"]
        qos = (command & 0x06) >> 1
        if deliver is None or qos > 1:
            return super()._handle_publish()
        body = self._in_packet["packet"]
        try:
            topic_end = 2 + (body[0] << 8 | body[1])
            topic = body[2:topic_end].decode()
            pos = topic_end
            mid = 0
            if qos:
                mid = body[pos] << 8 | body[pos + 1]
                pos += 2
            if self._protocol == MQTTProtocolVersion.MQTTv5:
                props_len, mult = 0, 1
                while True:
                    byte = body[pos]
                    pos += 1
                    props_len += (byte & 127) * mult
                    mult <<= 7
                    if not byte & 128:
                        break
                pos += props_len
            if not topic or pos > len(body) or "\0" in topic:
                raise ValueError
        except (IndexError, UnicodeDecodeError, ValueError):
            return super()._handle_publish()  # paho reports what is wrong with it
        deliver(topic, bytes(body[pos:]), mid, qos)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def queue_pubacks(self, mids: list[int]) -> None:
        """Send PUBACKs for ``mids`` (QoS 1, in this order) as one write; any thread."""
        if mids:
            self._packet_queue(_PUBACK, puback_packets(mids), 0, 0)
