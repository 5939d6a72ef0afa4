"""``MemoryTls`` against a real TLS peer over a socket pair (no network).

The peer runs OpenSSL on memory BIOs too, so a test decides where the bytes
of its records are cut and when they reach the socket.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from paho.mqtt.client import MQTTv5
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from envmon.ingest._paho_fast import BufferedClient
from envmon.ingest._tls_bio import MemoryTls
from tests.support.certs import Pki, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


class Peer:
    """The server end: TLS on memory BIOs over one end of a socket pair."""

    def __init__(self, sock: socket.socket, pki: Pki) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.server.cert, pki.server.key)
        self.sock = sock
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.error: BaseException | None = None
        self.done = threading.Event()

    def handshake(self) -> None:
        try:
            while True:
                try:
                    self.tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    self.sock.sendall(self.outgoing.read())
                    data = self.sock.recv(65536)
                    if not data:
                        return
                    self.incoming.write(data)
            self.sock.sendall(self.outgoing.read())
        except (OSError, ssl.SSLError) as exc:
            self.error = exc
        finally:
            self.done.set()

    def records(self, *plaintexts: bytes) -> bytes:
        """The encrypted bytes of one TLS record per plaintext."""
        for text in plaintexts:
            self.tls.write(text)
        return self.outgoing.read()

    def receive(self, size: int, deadline_s: float = 10.0) -> bytes:
        """Decrypts until ``size`` plaintext bytes have come."""
        got = bytearray()
        self.sock.settimeout(deadline_s)
        while len(got) < size:
            try:
                got += self.tls.read(65536)
                continue
            except ssl.SSLWantReadError:
                pass
            self.incoming.write(self.sock.recv(65536))
        return bytes(got)


@contextmanager
def _handshaking(pki: Pki, server_hostname: str) -> Iterator[tuple[MemoryTls, Peer]]:
    """A client ``MemoryTls`` (not yet shaken hands) and the peer, whose handshake
    runs in a thread until the block ends."""
    client_end, server_end = socket.socketpair()
    peer = Peer(server_end, pki)
    server = threading.Thread(target=peer.handshake)
    server.start()
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    client_end.settimeout(10)
    tls = MemoryTls(client_end, context, server_hostname=server_hostname)
    try:
        yield tls, peer
    finally:
        tls.close()
        server.join(10)
        server_end.close()


@pytest.fixture
def pair(pki: Pki) -> Iterator[tuple[MemoryTls, Peer]]:
    with _handshaking(pki, "localhost") as (tls, peer):
        tls.do_handshake()
        assert peer.done.wait(10)
        assert peer.error is None
        tls.setblocking(False)
        yield tls, peer


def _recv_until(tls: MemoryTls, size: int, deadline_s: float = 10.0) -> tuple[bytes, int]:
    """Reads ``size`` bytes; also how many ``recv`` calls returned data."""
    got, calls = bytearray(), 0
    deadline = time.monotonic() + deadline_s
    while len(got) < size:
        assert time.monotonic() < deadline, f"only {len(got)} of {size} bytes"
        try:
            data = tls.recv(65536)
        except ssl.SSLWantReadError:
            continue
        assert data, "closed early"
        got += data
        calls += 1
    return bytes(got), calls


def test_a_burst_of_records_comes_in_one_recv(pair: tuple[MemoryTls, Peer]) -> None:
    tls, peer = pair
    packets = [bytes([i % 256]) * 110 for i in range(200)]
    peer.sock.sendall(peer.records(*packets))
    data, calls = _recv_until(tls, 200 * 110)
    assert data == b"".join(packets)
    assert calls == 1  # an SSLSocket would take 200
    assert tls.pending() == 0


def test_a_record_cut_in_two_waits_for_its_second_part(pair: tuple[MemoryTls, Peer]) -> None:
    tls, peer = pair
    first, second = peer.records(b"A" * 50), peer.records(b"B" * 50)
    peer.sock.sendall(first + second[:10])
    assert tls.recv(65536) == b"A" * 50
    with pytest.raises(ssl.SSLWantReadError):
        tls.recv(65536)
    assert tls.pending() == 0
    peer.sock.sendall(second[10:])
    assert _recv_until(tls, 50)[0] == b"B" * 50


def test_recv_serves_a_large_read_in_pieces_and_tells_what_is_pending(
    pair: tuple[MemoryTls, Peer],
) -> None:
    tls, peer = pair
    peer.sock.sendall(peer.records(b"y" * 3000))  # in the kernel when sendall returns
    assert tls.recv(1000) == b"y" * 1000
    assert tls.pending() == 2000
    assert tls.recv(5000) == b"y" * 2000
    assert tls.pending() == 0


@pytest.mark.parametrize("close_notify", [True, False], ids=["close_notify", "tcp_close"])
def test_the_peer_closing_is_told_after_the_last_bytes(
    pair: tuple[MemoryTls, Peer], close_notify: bool
) -> None:
    tls, peer = pair
    data = peer.records(b"last")
    if close_notify:
        with pytest.raises(ssl.SSLWantReadError):
            peer.tls.unwrap()  # sends close_notify, then waits for ours
        data += peer.outgoing.read()
    peer.sock.sendall(data)
    peer.sock.shutdown(socket.SHUT_WR)
    assert _recv_until(tls, 4)[0] == b"last"
    deadline = time.monotonic() + 10
    while True:
        assert time.monotonic() < deadline
        try:
            assert tls.recv(65536) == b""
            break
        except ssl.SSLWantReadError:
            continue
    assert tls.recv(65536) == b""  # and again


def test_garbage_in_the_stream_is_an_ssl_error(pair: tuple[MemoryTls, Peer]) -> None:
    tls, peer = pair
    peer.sock.sendall(b"\x17\x03\x03\x00\x20" + b"\x00" * 32)  # an application record, bad MAC
    deadline = time.monotonic() + 10
    with pytest.raises(ssl.SSLError):
        while time.monotonic() < deadline:
            try:
                tls.recv(65536)
            except ssl.SSLWantReadError:
                continue
    with pytest.raises(ssl.SSLError):
        tls.recv(65536)  # and again: the connection is unusable


def test_a_server_not_named_as_asked_is_refused(pki: Pki) -> None:
    with (
        _handshaking(pki, "broker.example") as (tls, _),
        pytest.raises(ssl.SSLCertVerificationError, match=r"broker\.example"),
    ):
        tls.do_handshake()


def test_a_write_the_kernel_does_not_take_is_kept_whole_and_in_order(
    pair: tuple[MemoryTls, Peer],
) -> None:
    tls, peer = pair
    packets: list[bytes] = []
    refused = False
    for i in range(10_000):  # until the socket pair's buffers are full
        packet = bytes([i % 256]) * 1000
        try:
            assert tls.send(packet) == len(packet)
        except BlockingIOError:
            refused = True
            break
        packets.append(packet)
    assert refused and tls.unsent  # taken by send, not yet by the kernel
    expected = b"".join(packets)
    received = bytearray()
    reader = threading.Thread(target=lambda: received.extend(peer.receive(len(expected))))
    reader.start()
    deadline = time.monotonic() + 10
    while tls.unsent:
        assert time.monotonic() < deadline
        tls.flush()
    reader.join(10)
    assert bytes(received) == expected
    assert tls.send(b"after") == 5
    assert peer.receive(5) == b"after"


def test_forwards_socket_options_to_the_tcp_socket(pair: tuple[MemoryTls, Peer]) -> None:
    tls, _ = pair
    tls.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    assert tls.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) >= 8192
    assert tls.fileno() >= 0


def test_the_buffered_client_asks_to_write_until_its_records_are_sent(
    pair: tuple[MemoryTls, Peer],
) -> None:
    """paho counts a packet written once ``send`` took it: the client's loop must
    still select for writing, and write, while its records wait for the kernel."""
    tls, peer = pair
    client = BufferedClient(CallbackAPIVersion.VERSION2, client_id="t", protocol=MQTTv5)
    client._sock = tls  # as paho's connect sets it
    assert not client.want_write()
    sent = 0
    while not tls.unsent:
        sent += tls.send(b"p" * 1000)
    assert client.want_write()
    received = bytearray()
    reader = threading.Thread(target=lambda: received.extend(peer.receive(sent)))
    reader.start()
    deadline = time.monotonic() + 10
    while client.want_write():
        assert time.monotonic() < deadline
        assert client.loop_write() == MQTTErrorCode.MQTT_ERR_SUCCESS
    reader.join(10)
    assert bytes(received) == b"p" * sent
    client._sock = None
