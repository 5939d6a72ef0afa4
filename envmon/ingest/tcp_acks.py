"""When envmon acknowledges the broker's TCP segments at once.

Mosquitto sends with Nagle's algorithm: while a segment it sent is not yet
acknowledged, the next small packets wait and go out together. Linux delays
the acknowledgement of small segments (up to 40 ms) to send it along with
data, and envmon sends little: its PUBACKs wait for durability, about once a
second. So a reading can sit in the broker for tens of milliseconds before
envmon sees it (bench/README.md, fourth session: each of the slowest alarms
at 300 readings/s had waited 25-40 ms there, and under 5 ms inside envmon).

Under load that wait is what keeps envmon cheap: at 1 000 readings/s a
wake-up takes about 17 readings instead of one, and acknowledging every
segment at once there more than doubles the CPU per reading. With little
traffic it only delays. ``QuickAcks`` decides from the message rate of the
last second: below ``batch_above_per_s`` each read is acknowledged at once
(``TCP_QUICKACK``, which Linux forgets after a few segments, so it is set
again after every read); at or above it, the kernel's delayed
acknowledgements batch. Pure logic, handed the time; ``quick_ack`` is the
one system call.
"""

from __future__ import annotations

import socket
from typing import Final

WINDOW_S: Final = 1.0
"""The rate is counted over windows this long."""


class QuickAcks:
    """Whether the read just made should be acknowledged at once.

    Quick until a window's rate reaches ``batch_above_per_s`` (0: never quick),
    and again after a window below it. A window ends at the first read
    ``WINDOW_S`` or more after it began, and its rate is the messages of the
    reads before that one over its whole length.
    """

    def __init__(self, batch_above_per_s: float) -> None:
        self._threshold = batch_above_per_s
        self._quick = batch_above_per_s > 0
        self._window_start: float | None = None
        self._count = 0

    def on_read(self, messages: int, now_s: float) -> bool:
        """Count a read of ``messages`` at ``now_s`` (monotonic); True: ack it at once."""
        if self._threshold <= 0:
            return False
        start = self._window_start
        if start is None:
            self._window_start = now_s
        elif now_s - start >= WINDOW_S:
            # A pause lengthens the window, and so lowers its rate.
            self._quick = self._count / (now_s - start) < self._threshold
            self._window_start, self._count = now_s, 0
        self._count += messages
        return self._quick


def quick_ack(sock: object) -> bool:
    """Acknowledge what ``sock`` (a socket, paho's TLS socket or ``MemoryTls``) has
    received now, and the next few segments at once; False where the socket or
    the system has no ``TCP_QUICKACK``."""
    option = getattr(socket, "TCP_QUICKACK", None)
    setsockopt = getattr(sock, "setsockopt", None)
    if option is None or setsockopt is None:
        return False
    try:
        setsockopt(socket.IPPROTO_TCP, option, 1)
    except OSError:
        return False  # not TCP (a Unix socket in a test), or closed meanwhile
    return True
