"""A TLS connection whose records OpenSSL decrypts from memory, for the buffered client.

An ``ssl.SSLSocket`` gives one TLS record per ``recv``, and OpenSSL reads each
record from the kernel with two system calls (its header, then its body).
Mosquitto writes one record per MQTT packet, so a burst of 100-byte readings
costs two system calls and a round through the ssl module per reading
(bench/README.md has the figures).

``MemoryTls`` runs the same TLS (``SSLContext.wrap_bio``: same context, same
certificate and host name checks) over a plain socket: one ``recv`` takes
every byte the kernel holds, OpenSSL decrypts all the whole records among them
from memory, and ``recv`` serves the plaintext. ``pending`` is the plaintext
not yet served, as ``SSLSocket.pending`` is, so paho's loop does not wait in
``select`` while some is left.

Writing: ``send`` encrypts the whole packet and hands the records to the
kernel; what the kernel does not take now is kept (``unsent``) and sent by
``flush`` before anything new is accepted, so a packet is never reordered or
cut. The client's loop asks for the socket's writability while ``unsent`` is
not empty (``BufferedClient.want_write``).

An end of the connection is told as ``SSLSocket`` tells it: ``b""`` from
``recv`` after the last plaintext (close_notify or TCP close), an
``ssl.SSLError`` (an ``OSError``) from every ``recv`` after a corrupt record.
"""

from __future__ import annotations

import socket
import ssl
from typing import Final

RAW_RECV_BYTES: Final = 64 * 1024
"""One ``recv`` from the kernel: several hundred of Mosquitto's small records."""
_READ_BYTES: Final = 64 * 1024


class MemoryTls:
    """A client TLS connection over ``sock``, shaped like the socket paho expects
    (``recv``, ``send``, ``pending``, ``fileno``, ``setblocking``, ``close``)."""

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, server_hostname: str) -> None:
        self._sock = sock
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(
            self._incoming, self._outgoing, server_hostname=server_hostname
        )
        self._plain = bytearray()
        self.unsent = bytearray()
        """Encrypted bytes the kernel has not taken yet."""
        self._closed_by_peer = False
        self._failed: ssl.SSLError | None = None

    def do_handshake(self) -> None:
        """The TLS handshake, blocking on the socket's own timeout; raises
        ``ssl.SSLError`` (a bad certificate or host name) or ``OSError``."""
        while True:
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._sock.sendall(self._outgoing.read())
                data = self._sock.recv(RAW_RECV_BYTES)
                if not data:
                    raise ConnectionResetError("closed during the TLS handshake") from None
                self._incoming.write(data)
        self._sock.sendall(self._outgoing.read())

    def recv(self, bufsize: int) -> bytes:
        """Up to ``bufsize`` plaintext bytes; ``ssl.SSLWantReadError`` when none is
        there yet, ``b""`` once the peer has closed and all is served."""
        plain = self._plain
        if not plain:
            if self._failed is not None:
                raise self._failed  # every read after a corrupt record fails, as the first
            self._receive()
        if not plain:
            if self._closed_by_peer:
                return b""
            raise ssl.SSLWantReadError("no whole TLS record yet")
        if len(plain) <= bufsize:
            out = bytes(plain)
            plain.clear()
        else:
            out = bytes(plain[:bufsize])
            del plain[:bufsize]
        return out

    def _receive(self) -> None:
        """What the kernel holds, decrypted into ``_plain``."""
        if self._closed_by_peer:
            return
        try:
            data = self._sock.recv(RAW_RECV_BYTES)
        except BlockingIOError:
            return
        if data:
            self._incoming.write(data)
        else:
            self._incoming.write_eof()
        self._decrypt()
        if self._outgoing.pending:  # e.g. a key update asks for an answer
            self.unsent += self._outgoing.read()
            self.flush()

    def _decrypt(self) -> None:
        while True:
            try:
                chunk = self._tls.read(_READ_BYTES)
            except ssl.SSLWantReadError:
                return  # what is left in the BIO is part of a record
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                # close_notify, or a TCP close without it (as SSLSocket, which
                # suppresses ragged EOFs): the connection is over.
                self._closed_by_peer = True
                return
            except ssl.SSLError as exc:
                self._failed = exc
                raise
            if not chunk:
                self._closed_by_peer = True
                return
            self._plain += chunk

    def pending(self) -> int:
        """Plaintext bytes decrypted and not yet served."""
        return len(self._plain)

    def send(self, data: bytes | bytearray | memoryview) -> int:
        """Takes all of ``data`` (its records are sent now or by ``flush``); raises
        ``BlockingIOError`` while earlier records are still unsent."""
        if self.unsent:
            self.flush()
            if self.unsent:
                raise BlockingIOError("earlier TLS records not yet sent")
        self._tls.write(data)
        self.unsent += self._outgoing.read()
        self.flush()
        return len(data)

    def flush(self) -> None:
        """Sends what the kernel takes of ``unsent`` now."""
        unsent = self.unsent
        while unsent:
            try:
                sent = self._sock.send(unsent)
            except BlockingIOError:
                return
            del unsent[:sent]

    def fileno(self) -> int:
        return self._sock.fileno()

    def setblocking(self, flag: bool) -> None:
        self._sock.setblocking(flag)

    def setsockopt(self, level: int, option: int, value: int) -> None:
        self._sock.setsockopt(level, option, value)

    def getsockopt(self, level: int, option: int) -> int:
        return self._sock.getsockopt(level, option)

    def close(self) -> None:
        self._sock.close()
