"""``QuickAcks`` (when a read is acknowledged at once) with plain values, and
``quick_ack`` on real sockets."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from envmon.ingest.tcp_acks import WINDOW_S, QuickAcks, quick_ack


def steady(acks: QuickAcks, rate_per_s: float, seconds: float, start_s: float = 0.0) -> list[bool]:
    """Reads every 10 ms carrying ``rate_per_s`` messages a second (a multiple of
    100); each read's answer."""
    per_read = round(rate_per_s / 100)
    assert per_read * 100 == rate_per_s
    return [acks.on_read(per_read, start_s + i / 100) for i in range(round(seconds * 100))]


def test_quick_from_the_first_read() -> None:
    assert QuickAcks(500).on_read(1, 100.0)
    assert QuickAcks(500).on_read(100_000, 100.0)


def test_zero_means_always_batch() -> None:
    assert not any(steady(QuickAcks(0), 100, 3))


@pytest.mark.parametrize("rate", [100, 300, 400])
def test_below_the_threshold_every_read_is_quick(rate: float) -> None:
    assert all(steady(QuickAcks(500), rate, 5))


@pytest.mark.parametrize("rate", [500, 1000, 5000])
def test_at_or_above_the_threshold_reads_batch_after_the_first_window(rate: float) -> None:
    answers = steady(QuickAcks(500), rate, 5)
    first_window = round(WINDOW_S * 100)
    assert all(answers[:first_window])
    assert not any(answers[first_window:])


def test_back_to_quick_after_a_window_below() -> None:
    acks = QuickAcks(500)
    assert not steady(acks, 1000, 3)[-1]
    slow = steady(acks, 100, 3, start_s=3.0)
    # The window that spans the change still counts the fast part.
    assert not slow[0]
    assert all(slow[round(2 * WINDOW_S * 100) :])


def test_the_first_read_after_a_pause_is_quick() -> None:
    acks = QuickAcks(500)
    assert not steady(acks, 2000, 1.5)[-1]
    # The last window: 1 000 messages from 1.0 s on, stretched by the pause to 10 s: 100/s.
    assert acks.on_read(20, 11.0)


def test_the_rate_is_that_of_the_reads_before_the_window_ends() -> None:
    acks = QuickAcks(500)
    acks.on_read(499, 0.0)
    # 499 in the first second; this read's 10 000 count towards the next window.
    assert acks.on_read(10_000, 1.0)
    assert not acks.on_read(1, 2.0)


@pytest.fixture
def tcp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        try:
            yield client, accepted
        finally:
            client.close()
            accepted.close()


def test_quick_ack_on_a_tcp_socket(tcp_pair: tuple[socket.socket, socket.socket]) -> None:
    client, peer = tcp_pair
    peer.sendall(b"x")
    assert client.recv(1) == b"x"
    assert quick_ack(client)


class _Wrapper:
    """Shaped like ``MemoryTls``: ``setsockopt`` handed to the socket beneath."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def setsockopt(self, level: int, option: int, value: int) -> None:
        self.sock.setsockopt(level, option, value)


def test_quick_ack_through_a_wrapper(tcp_pair: tuple[socket.socket, socket.socket]) -> None:
    assert quick_ack(_Wrapper(tcp_pair[0]))


def test_quick_ack_where_it_cannot_be_done() -> None:
    assert not quick_ack(None)
    assert not quick_ack(object())
    left, right = socket.socketpair()  # Unix sockets have no TCP options
    with left, right:
        assert not quick_ack(left)
    closed = socket.socket()
    closed.close()
    assert not quick_ack(closed)
