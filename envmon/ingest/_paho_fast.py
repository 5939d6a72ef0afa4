"""paho-mqtt's client with fewer system calls per message: buffered reads, batched PUBACKs.

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
Both rely on two private paho methods (``_sock_recv``, ``_packet_queue``),
stable since paho-mqtt 1.x; ``supported()`` says whether they are there, and
``MqttSource`` falls back to the plain client when not.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any, Final

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode

RECV_CHUNK_BYTES: Final = 16 * 1024
# PUBACK with remaining length 2: packet id only, reason "success" implied
# (MQTT 5 §3.4.2.1), the same bytes paho's own ack() sends.
_PUBACK: Final = int(paho.PUBACK)
_PUBACK_PACKET: Final = struct.Struct("!BBH")


def supported() -> bool:
    """Whether this paho version has the private methods ``BufferedClient`` uses."""
    return all(hasattr(paho.Client, name) for name in ("_sock_recv", "_packet_queue"))


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
        return rc

    def queue_pubacks(self, mids: list[int]) -> None:
        """Send PUBACKs for ``mids`` (QoS 1, in this order) as one write; any thread."""
        if mids:
            self._packet_queue(_PUBACK, puback_packets(mids), 0, 0)
