"""The bulk PUBACK encoding of envmon's paho client."""

from __future__ import annotations

import struct

import paho.mqtt.client as paho
import pytest

from envmon.ingest import _mqtt_frames, _paho_fast


class TestPubackPackets:
    def test_same_bytes_as_paho_sends_one_by_one(self) -> None:
        """Each PUBACK is paho's own: type 0x40, remaining length 2, the packet id."""
        mids = [1, 2, 255, 256, 65535]
        expected = b"".join(struct.pack("!BBH", int(paho.PUBACK), 2, mid) for mid in mids)
        assert _mqtt_frames.puback_packets(mids) == expected

    def test_order_kept(self) -> None:
        """PUBACKs go out in the order given (MQTT 3.1.1 §4.6: arrival order)."""
        packets = _mqtt_frames.puback_packets([7, 3, 9])
        assert [int.from_bytes(packets[i + 2 : i + 4], "big") for i in (0, 4, 8)] == [7, 3, 9]

    def test_nothing_for_no_mids(self) -> None:
        """An empty batch is no bytes at all."""
        assert _mqtt_frames.puback_packets([]) == b""


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _publish(topic: bytes, payload: bytes, mid: int, qos: int, props: bytes = b"") -> bytes:
    """A PUBLISH packet as a broker sends it to an MQTT 5 client."""
    body = struct.pack("!H", len(topic)) + topic
    if qos:
        body += struct.pack("!H", mid)
    body += _varint(len(props)) + props + payload
    return bytes([0x30 | qos << 1]) + _varint(len(body)) + body


def _user_property(key: str, value: str) -> bytes:
    k, v = key.encode(), value.encode()
    return b"\x26" + struct.pack("!H", len(k)) + k + struct.pack("!H", len(v)) + v


class _ChunkedSocket:
    """Serves ``data`` in the given chunk sizes, then would block."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self._data, self._sizes, self._pos = data, sizes, 0

    def recv(self, bufsize: int) -> bytes:
        if self._pos >= len(self._data):
            raise BlockingIOError
        size = min(bufsize, self._sizes[0] if self._sizes else bufsize)
        if self._sizes:
            self._sizes.pop(0)
        out = self._data[self._pos : self._pos + size]
        self._pos += len(out)
        return out

    @property
    def exhausted(self) -> bool:
        return self._pos >= len(self._data)

    def close(self) -> None:
        pass

    def fileno(self) -> int:
        return -1


Delivery = tuple[str, bytes, int, int]


def _receive(data: bytes, sizes: list[int], fast: bool) -> list[Delivery]:
    """Feed ``data`` to a connected client; what reaches the application, in order."""
    client = _paho_fast.BufferedClient(
        paho.CallbackAPIVersion.VERSION2,
        client_id="t",
        protocol=paho.MQTTv5,
        manual_ack=True,
    )
    got: list[Delivery] = []

    def on_message(c: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        got.append((msg.topic, bytes(msg.payload), msg.mid, msg.qos))

    client.on_message = on_message
    if fast:
        client.on_publishes_received = got.extend
    sock = _ChunkedSocket(data, sizes)
    client._sock = sock  # type: ignore[assignment]
    client._state = paho._ConnectionState.MQTT_CS_CONNECTED
    for _ in range(len(data) + 100):
        if sock.exhausted and not client._rbuf and client._in_packet["command"] == 0:
            break
        client.loop_read()
    client._sock = None
    return got


_STREAM = [
    _publish(b"fac/site1/R1/climate/TH1", b'{"ts": 1, "temperature_c": 20.5}', 1, 1),
    _publish(b"fac/site1/R1/particles/PC1", b"", 65535, 1),
    _publish(b"fac/site1/R1/state", b"in_operation", 0, 0),
    _publish("fac/site1/Räum/climate/TH2".encode(), b"x" * 40_000, 7, 1),
    _publish(
        b"fac/site1/R2/pressure/DP1",
        b'{"diff_pressure_pa": 12.5}',
        300,
        1,
        props=b"".join(_user_property(f"k{i}", "v" * 20) for i in range(8)),
    ),
    _publish(b"a/b", b"\x00\xff" * 100, 2, 1, props=b"\x01\x01"),
]


class TestFastPublishPath:
    def test_delivers_what_paho_delivers(self) -> None:
        """Topic, payload, packet id and QoS are paho's own for every packet shape:
        QoS 0 and 1, empty and 40 kB payloads, UTF-8 topics, properties whose
        length takes two bytes."""
        data = b"".join(_STREAM)
        expected = _receive(data, [], fast=False)
        assert len(expected) == len(_STREAM)
        assert _receive(data, [], fast=True) == expected

    def test_packets_cut_anywhere_between_reads(self) -> None:
        """However the bytes arrive (1 byte at a time, odd chunks), the same deliveries."""
        data = b"".join(_STREAM * 3)
        expected = _receive(data, [], fast=False)
        for sizes in ([1] * len(data), [3, 5, 7, 11, 13] * 4000, [100, 16_384, 2] * 100):
            assert _receive(data, list(sizes), fast=True) == expected

    def test_qos2_and_bad_topics_go_through_paho(self) -> None:
        """QoS 2 is left to paho's handshake; a topic that is not UTF-8 is paho's too."""
        qos2 = _publish(b"fac/site1/R1/climate/TH1", b"q2", 9, 2)
        fast_seen: list[Delivery] = []
        client = _paho_fast.BufferedClient(
            paho.CallbackAPIVersion.VERSION2, client_id="t", protocol=paho.MQTTv5, manual_ack=True
        )
        slow_seen: list[int] = []
        client.on_message = lambda c, u, m: slow_seen.append(m.mid)
        client.on_publishes_received = fast_seen.extend
        client._sock = _ChunkedSocket(qos2, [])  # type: ignore[assignment]
        client._state = paho._ConnectionState.MQTT_CS_CONNECTED
        client.loop_read()
        client._sock = None
        assert fast_seen == []
        assert 9 in client._in_messages  # paho waits for PUBREL, as MQTT requires

        bad = _publish(b"fac/\xff\xfe", b"p", 3, 1)
        client.on_message = lambda c, u, m: slow_seen.append(m.mid)
        client._sock = _ChunkedSocket(bad, [])  # type: ignore[assignment]
        client.loop_read()
        client._sock = None
        assert fast_seen == []
        assert slow_seen == [3]  # MqttSource drops it there, with a warning

    def test_other_packets_are_paho_s(self) -> None:
        """A PINGRESP between PUBLISHes reaches paho's keepalive bookkeeping."""
        client = _paho_fast.BufferedClient(
            paho.CallbackAPIVersion.VERSION2, client_id="t", protocol=paho.MQTTv5, manual_ack=True
        )
        seen: list[Delivery] = []
        client.on_publishes_received = seen.extend
        client._ping_t = 123.0
        data = _STREAM[0] + b"\xd0\x00" + _STREAM[1]
        client._sock = _ChunkedSocket(data, [])  # type: ignore[assignment]
        client._state = paho._ConnectionState.MQTT_CS_CONNECTED
        while client._sock.exhausted is False or client._rbuf:  # type: ignore[union-attr]
            client.loop_read()
        client._sock = None
        assert client._ping_t == 0
        assert [s[2] for s in seen] == [1, 65535]


class TestSplitPublishes:
    def test_stops_at_the_first_other_packet(self) -> None:
        """Publishes before a PINGRESP are split off; the PINGRESP and all after it stay."""
        data = bytearray(_STREAM[0] + _STREAM[1] + b"\xd0\x00" + _STREAM[4])
        deliveries, used = _mqtt_frames.split_publishes(data, mqtt5=True)
        assert [d[2] for d in deliveries] == [1, 65535]
        assert used == len(_STREAM[0]) + len(_STREAM[1])

    def test_stops_before_a_packet_not_all_here(self) -> None:
        """A packet cut by the end of the buffer waits for the rest of its bytes."""
        whole = _STREAM[0] + _STREAM[1]
        for cut in range(1, len(_STREAM[4])):
            deliveries, used = _mqtt_frames.split_publishes(
                bytearray(whole + _STREAM[4][:cut]), mqtt5=True
            )
            assert (len(deliveries), used) == (2, len(whole))

    def test_a_topic_length_past_its_packet_is_left_to_paho(self) -> None:
        """A corrupt topic length must not read the next packet's bytes as this one's."""
        bad = bytearray(_STREAM[0])
        bad[2:4] = (200).to_bytes(2, "big")  # the topic length, past the packet's end
        deliveries, used = _mqtt_frames.split_publishes(bad + _STREAM[1], mqtt5=True)
        assert (deliveries, used) == ([], 0)

    def test_every_packet_shape_alone_and_as_paho_frames_it(self) -> None:
        """Each sample packet alone: the same delivery from the buffer and from the
        body paho framed (parse_publish), with every length encoding up to 3 bytes."""
        for packet in _STREAM:
            (delivery,), used = _mqtt_frames.split_publishes(bytearray(packet), mqtt5=True)
            assert used == len(packet)
            start, end = _mqtt_frames.frame(packet, 0) or (0, 0)
            assert _mqtt_frames.parse_publish(packet[0], packet[start:end], True) == delivery
        assert _mqtt_frames.parse_publish(0x34, b"\x00\x01a\x00\x05\x00", True) is None

    def test_remaining_length_is_mqtt_s_encoding(self) -> None:
        for n in (0, 1, 127, 128, 300, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455):
            encoded = _mqtt_frames.remaining_length(n)
            assert len(encoded) == 1 + (n > 127) + (n > 16_383) + (n > 2_097_151)
            # frame() reads it back (a body of n bytes is only built where small)
            body = b"x" * n if n < 100_000 else b""
            framed = _mqtt_frames.frame(b"\x30" + encoded + body, 0)
            assert framed == ((1 + len(encoded), 1 + len(encoded) + n) if body or not n else None)

    def test_qos2_is_left_to_paho(self) -> None:
        """QoS 2 needs paho's PUBREC/PUBREL handshake."""
        data = bytearray(_STREAM[0] + _publish(b"a/b", b"x", 5, 2) + _STREAM[1])
        deliveries, used = _mqtt_frames.split_publishes(data, mqtt5=True)
        assert [d[2] for d in deliveries] == [1]
        assert used == len(_STREAM[0])


class _ClosingSocket(_ChunkedSocket):
    """Serves its data, then reports the connection closed (recv returns b"")."""

    def recv(self, bufsize: int) -> bytes:
        if self.exhausted:
            return b""
        return super().recv(bufsize)


class TestConnectionEnds:
    def test_a_closed_connection_is_reported_after_its_last_packets(self) -> None:
        """The packets read before the close are delivered; then paho sees the close."""
        client = _paho_fast.BufferedClient(
            paho.CallbackAPIVersion.VERSION2, client_id="t", protocol=paho.MQTTv5, manual_ack=True
        )
        seen: list[Delivery] = []
        client.on_publishes_received = seen.extend
        client._sock = _ClosingSocket(_STREAM[0] + _STREAM[1], [])  # type: ignore[assignment]
        client._state = paho._ConnectionState.MQTT_CS_CONNECTED
        assert client.loop_read() == paho.MQTT_ERR_SUCCESS
        assert [s[2] for s in seen] == [1, 65535]
        assert client.loop_read() == paho.MQTT_ERR_CONN_LOST


def _connected(sock: _ChunkedSocket) -> tuple[_paho_fast.BufferedClient, list[list[Delivery]]]:
    """A buffered client reading ``sock``, and the batches it hands on."""
    client = _paho_fast.BufferedClient(
        paho.CallbackAPIVersion.VERSION2, client_id="t", protocol=paho.MQTTv5, manual_ack=True
    )
    batches: list[list[Delivery]] = []
    client.on_publishes_received = batches.append
    client._sock = sock  # type: ignore[assignment]
    client._state = paho._ConnectionState.MQTT_CS_CONNECTED
    return client, batches


def _readings(n: int, payload: bytes = b'{"ts": 1, "temperature_c": 20.5}') -> list[bytes]:
    return [_publish(b"fac/site1/R1/climate/TH1", payload, i + 1, 1) for i in range(n)]


class _FailingSocket(_ChunkedSocket):
    """Serves its data, then fails with ``error``."""

    def __init__(self, data: bytes, sizes: list[int], error: OSError) -> None:
        self.error = error
        super().__init__(data, sizes)

    def recv(self, bufsize: int) -> bytes:
        if self.exhausted:
            raise self.error
        return super().recv(bufsize)


class TestChunkReads:
    def test_what_is_there_is_read_once_per_round(self) -> None:
        """One recv returns all that is there (a plain socket, and TLS through
        ``MemoryTls``): one read and one batch per round."""
        packets = _readings(50)
        sock = _ChunkedSocket(b"".join(packets), [])
        client, batches = _connected(sock)
        client.loop_read()
        assert [len(b) for b in batches] == [50]

    def test_a_chunk_is_at_most_recv_chunk_bytes(self) -> None:
        """A backlog larger than a chunk is read a chunk per round (writes go out
        between rounds), and every packet arrives once, in order."""
        packets = _readings(300, b"x" * 200)
        sock = _ChunkedSocket(b"".join(packets), [])
        client, batches = _connected(sock)
        client.loop_read()
        first = sum(len(p) for p in packets[: len(batches[0])])
        assert first <= _paho_fast.RECV_CHUNK_BYTES
        assert 0 < len(batches[0]) < 300
        while not sock.exhausted or client._rbuf:
            client.loop_read()
        assert [d[2] for b in batches for d in b] == list(range(1, 301))

    def test_an_error_after_packets_is_reported_after_them(self) -> None:
        """Packets, then a reset: the packets are handed on, then the connection is lost."""
        packets = _readings(3)
        sock = _FailingSocket(b"".join(packets), [], ConnectionResetError(104, "reset"))
        client, batches = _connected(sock)
        assert client.loop_read() == paho.MQTT_ERR_SUCCESS
        assert client.loop_read() == paho.MQTT_ERR_CONN_LOST
        assert [d[2] for b in batches for d in b] == [1, 2, 3]

    def test_a_close_with_a_packet_cut_short_is_still_reported(self) -> None:
        """The close comes after half a packet: the whole ones are handed on, the
        half one is dropped, and the connection is lost."""
        packets = _readings(2)
        sock = _ClosingSocket(b"".join(packets) + packets[0][:5], [])
        client, batches = _connected(sock)
        rounds = [client.loop_read() for _ in range(3)]
        assert paho.MQTT_ERR_CONN_LOST in rounds
        assert [d[2] for b in batches for d in b] == [1, 2]


class TestVerifiedVersion:
    def test_the_verified_minor_release(self) -> None:
        """Every 2.2.x is verified; the releases around it are not."""
        for version in ("2.2.0", "2.2.1", "2.2.17", "2.2"):
            assert _paho_fast.version_verified(version), version
        for version in ("2.1.0", "2.3.0", "3.0.0", "1.6.1", "20.2.0", "", "unknown"):
            assert not _paho_fast.version_verified(version), version

    def test_installed_paho_is_supported(self) -> None:
        """The installed paho-mqtt (2.2) is verified and has every private name used."""
        assert _paho_fast.paho_version().startswith("2.2.")
        assert _paho_fast.supported()

    def test_a_missing_private_name_is_unsupported(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A verified version number alone is not enough: each private name must be there."""
        monkeypatch.delattr(paho.Client, "_handle_publish")
        assert not _paho_fast.supported.__wrapped__()

    def test_another_version_is_unsupported(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """paho-mqtt 2.1 (different private members) falls back to plain paho."""
        monkeypatch.setattr(_paho_fast.paho_package, "__version__", "2.1.0")
        assert not _paho_fast.supported.__wrapped__()
