"""MQTT packets as bytes, without paho: framing, QoS 0/1 PUBLISH parsing, PUBACKs.

Pure functions over buffers, for ``_paho_fast.BufferedClient``'s read path and
bulk acknowledgements; tests/unit/test_paho_fast.py compares what they deliver
with paho's own parser for every packet shape and every way of cutting the bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Final, NamedTuple

# PUBACK with remaining length 2: packet id only, reason "success" implied
# (MQTT 5 §3.4.2.1), the same bytes paho's own ack() sends.
PUBACK: Final = 0x40
_PUBACK_PACKET: Final = struct.Struct("!BBH")
_PUBLISH: Final = 0x30


class Delivery(NamedTuple):
    """An incoming PUBLISH: what ingest reads, and what its acknowledgement needs."""

    topic: str
    payload: bytes
    mid: int
    """Packet id (0 at QoS 0)."""
    qos: int


def puback_packets(mids: Iterable[int]) -> bytes:
    """PUBACKs for ``mids``, in order, as one byte string."""
    pack = _PUBACK_PACKET.pack
    return b"".join(pack(PUBACK, 2, mid) for mid in mids)


def frame(buf: bytes | bytearray, pos: int) -> tuple[int, int] | None:
    """Where the body of the packet starting at ``pos`` lies in ``buf``: ``(start,
    end)``; None when it is not all there yet or its length is malformed."""
    have = len(buf)
    remaining, mult, i = 0, 1, pos + 1
    while True:
        if i >= have or i > pos + 4:
            return None
        byte = buf[i]
        i += 1
        if byte < 128:  # the last length byte; for most packets the first or second
            remaining += byte * mult
            break
        remaining += (byte - 128) * mult
        mult <<= 7
    end = i + remaining
    return None if end > have else (i, end)


def remaining_length(n: int) -> bytes:
    """MQTT's variable-length encoding of a packet's remaining length ``n``."""
    out = bytearray()
    while True:
        n, byte = n >> 7, n & 127
        out.append(byte | 128 if n else byte)
        if not n:
            return bytes(out)


def parse_publish(command: int, body: bytes | bytearray, mqtt5: bool) -> Delivery | None:
    """The PUBLISH with this command byte and body, if it is QoS 0 or 1 with a valid
    UTF-8 topic; None for anything to leave to paho. (Rare: a packet paho framed.)"""
    packet = bytes((command,)) + remaining_length(len(body)) + bytes(body)
    deliveries, used = split_publishes(packet, mqtt5)
    return deliveries[0] if used == len(packet) else None


def split_publishes(buf: bytes | bytearray, mqtt5: bool) -> tuple[list[Delivery], int]:
    """The whole QoS 0/1 PUBLISH packets with a valid UTF-8 topic at the front of
    ``buf``, in order, and how many bytes they take; stops at the first packet
    that is anything else (paho's to handle, or to wait for).

    One loop over the buffer; the remaining length of packets under 16 KiB (one
    or two bytes) is read inline, longer ones through ``frame``.
    """
    out: list[Delivery] = []
    append = out.append
    data = bytes(buf)  # slices of bytes are one copy (of a bytearray, two)
    pos, have = 0, len(data)
    while pos + 1 < have:
        command = data[pos]
        if command & 0xF4 != _PUBLISH:  # not a PUBLISH, or QoS 2 (3 is malformed)
            break
        length = data[pos + 1]
        if length < 128:
            start, end = pos + 2, pos + 2 + length
        elif pos + 2 < have and data[pos + 2] < 128:
            start, end = pos + 3, pos + 3 + length - 128 + (data[pos + 2] << 7)
        else:
            framed = frame(data, pos)
            if framed is None:
                break
            start, end = framed
        if end > have or end - start < 2:
            break
        try:
            topic_end = start + 2 + (data[start] << 8 | data[start + 1])
            topic = data[start + 2 : topic_end].decode()
            at = topic_end
            mid = 0
            if command & 0x02:
                mid = data[at] << 8 | data[at + 1]
                at += 2
            if mqtt5:
                props, mult = 0, 1
                while True:
                    byte = data[at]
                    at += 1
                    if byte < 128:
                        props += byte * mult
                        break
                    props += (byte - 128) * mult
                    mult <<= 7
                at += props
        except (IndexError, UnicodeDecodeError):
            break
        if at > end or topic_end > end or not topic or "\0" in topic:
            break
        payload, qos = data[at:end], (command & 0x06) >> 1
        append(Delivery(topic, payload, mid, qos))
        pos = end
    return out, pos
