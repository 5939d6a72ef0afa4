"""The MQTT edge: a persistent-session subscriber whose acks wait for durability.

paho-mqtt 2.x, MQTT 5, callback API v2, ``manual_ack=True``. The broker keeps
the session (``clean_start=False``, ``SessionExpiryInterval``) under the fixed
client id, so readings published while envmon is down, and readings received
but not acknowledged, are delivered when it comes back.

Threads: paho's network loop runs in one thread owned here, which also
reconnects with exponential backoff (paho's own reconnect loop would hide the
reason of a failure). ``on_messages`` is called on that thread with the
messages of one socket read, in arrival order, and must not block: it hands
them on as one batch (one lock and one wake-up per read, not per message),
or judges them itself when the alarm worker is idle. ``ack``,
``ack_many`` and ``publish`` may be called from any thread: they only queue
the packet and wake the network thread, which alone writes to the socket
(paho would otherwise write on the caller's thread, and two threads writing
one socket, or one TLS connection, can interleave or corrupt what they send).
``publish`` on the network thread itself writes at once: an alarm judged
there goes out before its journal commit and the rest of the read.
PUBACKs are queued, and so written, in the order of the ``ack`` calls.

The client (``[mqtt] reader``, see ``mqtt_client``) is
``_paho_fast.BufferedClient`` (paho with buffered reads and bulk PUBACKs, for
the paho versions it was verified against) or plain ``paho.Client``; one INFO
line at start names it.

Below ``[mqtt] batch_above_per_s`` each read is also acknowledged at once
at the TCP level (``tcp_acks``), so that no reading waits in the broker for
a delayed acknowledgement.

Acks are tied to the connection a message arrived on: after a reconnect the
broker redelivers every unacknowledged message, so an ack for a delivery from
an older connection is dropped (the redelivered copy gets its own ack).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from envmon.ingest import _mqtt_frames, _paho_fast
from envmon.ingest.config import MqttSettings
from envmon.ingest.mqtt_client import new_client
from envmon.ingest.tcp_acks import QuickAcks, quick_ack

log = logging.getLogger("envmon.ingest")
_JOIN_TIMEOUT_S: Final = 10.0
# How long one round of the network loop waits in select() for the socket or a wake-up.
_LOOP_TIMEOUT_S: Final = 1.0


Delivery = _mqtt_frames.Delivery
"""One received PUBLISH: topic, payload, and the ``mid`` and ``qos`` that ``ack`` needs."""
OnMessages = Callable[[list[Delivery], int], None]
"""Takes the messages of one socket read, in order, and their receive time (ns)."""


class MqttSource:
    """Subscribes to ``settings.topics`` (QoS 1) and hands the messages of each read
    to ``on_messages``."""

    def __init__(
        self,
        settings: MqttSettings,
        on_messages: OnMessages,
        on_connection_change: Callable[[bool, str], None] | None = None,
    ) -> None:
        self._settings = settings
        self._on_messages = on_messages
        self._on_connection_change = on_connection_change
        self._where = f"{settings.host}:{settings.port}"
        self._stopping = threading.Event()
        self._subscribe_mid: int | None = -1
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None
        self._ack_lock = threading.Lock()
        self._generation = 0
        # mid -> connection generation of its oldest unacknowledged delivery.
        self._pending: dict[int, int] = {}
        # Later deliveries of a mid still pending (the broker redelivers after
        # a reconnect): rare, so the common case above holds a plain int.
        self._pending_more: dict[int, deque[int]] = {}
        # Set when the broker accepts us: the backoff starts over after a lost connection.
        self._accepted = False
        self._quick_acks = QuickAcks(settings.batch_above_per_s)  # the network thread's
        self._client = self._make_client()

    def _make_client(self) -> paho.Client:
        client = new_client(self._settings)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        if isinstance(client, _paho_fast.BufferedClient):
            client.on_publishes_received = self._handle_publishes
        client.on_subscribe = self._handle_subscribe
        return client

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        """Block until connected (and subscribed) or ``timeout_s`` has passed."""
        return self._connected.wait(timeout_s)

    def start(self) -> None:
        """Connect in the background, retrying with backoff until ``stop``."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="envmon-mqtt", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Disconnect cleanly; the session (and unacked messages) stays on the broker."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return
        deadline = time.monotonic() + _JOIN_TIMEOUT_S
        # Repeated: a connect in progress when stop was called starts a new loop.
        while thread.is_alive() and time.monotonic() < deadline:
            self._client.disconnect()
            thread.join(0.5)
        if thread.is_alive():
            log.warning("MQTT %s: network thread did not stop in time", self._where)

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge a delivery once its reading is durable; call in arrival order."""
        if qos == 0:
            return
        with self._ack_lock:
            generation = self._take_pending(mid)
            if generation != self._generation:
                return  # delivered on an older connection: the broker redelivers it
            rc = self._client.ack(mid, qos)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            log.debug("MQTT %s: ack of mid %d not sent (%s)", self._where, mid, rc)

    def ack_many(self, deliveries: Sequence[tuple[int, int]]) -> None:
        """Acknowledge ``(mid, qos)`` deliveries, in arrival order.

        The same as calling ``ack`` for each in turn (deliveries from an older
        connection are dropped the same way); the buffered client queues their
        PUBACKs as one packet.
        """
        client = self._client
        if not isinstance(client, _paho_fast.BufferedClient):
            for mid, qos in deliveries:
                self.ack(mid, qos)
            return
        with self._ack_lock:
            generation = self._generation
            mids: list[int] = []
            for mid, qos in deliveries:
                if qos == 0 or self._take_pending(mid) != generation:
                    continue
                if qos == 1:
                    mids.append(mid)
                else:  # QoS 2 (envmon subscribes at 1): paho's own handshake, in order
                    client.queue_pubacks(mids)
                    mids = []
                    client.ack(mid, qos)
            client.queue_pubacks(mids)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Queue a message; the network thread sends it now or after the next reconnect."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            log.warning("MQTT %s: cannot publish to %s: %s", self._where, topic, info.rc)
        elif threading.current_thread() is self._thread:
            # On the network thread (an alarm judged as its reading came in): it is
            # the one writer, and the alarm need not wait for the rest of the read.
            self._client.loop_write()

    def _take_pending(self, mid: int) -> int | None:
        """Generation of the oldest unacknowledged delivery of ``mid``."""
        generation = self._pending.pop(mid, None)
        if generation is not None and self._pending_more:
            more = self._pending_more.get(mid)
            if more:
                self._pending[mid] = more.popleft()
                if not more:
                    del self._pending_more[mid]
        return generation

    def _run(self) -> None:
        delay_s = self._settings.reconnect_min_s
        while not self._stopping.is_set():
            try:
                delay_s = self._connect_once(delay_s)
            except Exception:  # the network thread must outlive any bug
                log.exception("MQTT %s: unexpected error in the network loop", self._where)
            self._stopping.wait(delay_s)
            delay_s = min(delay_s * 2, self._settings.reconnect_max_s)

    def _connect_once(self, delay_s: float) -> float:
        """One connection: connect, run until it ends; the delay before the next try."""
        s = self._settings
        try:
            self._client.connect(
                s.host,
                s.port,
                keepalive=s.keepalive_s,
                clean_start=False,
                properties=self._connect_properties(),
            )
        except (OSError, ValueError) as exc:  # refused, DNS, TLS (ssl.SSLError is OSError)
            log.warning(
                "MQTT %s: cannot connect: %s; retrying in %.3g s",
                self._where,
                _reason(exc),
                delay_s,
            )
            return delay_s
        self._loop_until_disconnected()
        if self._connected.is_set():
            self._set_connected(False, "connection lost")
        if self._accepted:
            # The broker had accepted us: a lost connection starts the backoff over.
            self._accepted = False
            delay_s = s.reconnect_min_s
        if not self._stopping.is_set():
            log.info("MQTT %s: reconnecting in %.3g s", self._where, delay_s)
        return delay_s

    def _loop_until_disconnected(self) -> None:
        """paho's network loop for one connection.

        Not ``loop_forever``: it never creates paho's wake-up socket pair
        (``loop`` and ``loop_start`` do), so a packet queued by another thread
        would wait for select()'s timeout or the next incoming bytes.
        """
        client = self._client
        while client.loop(_LOOP_TIMEOUT_S) == MQTTErrorCode.MQTT_ERR_SUCCESS:
            pass

    def _connect_properties(self) -> Properties:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self._settings.session_expiry_s
        props.ReceiveMaximum = self._settings.receive_maximum
        return props

    @contextmanager
    def _paho_callback(self, what: str) -> Iterator[None]:
        """Logs what a callback raises: it would end paho's network thread."""
        try:
            yield
        except Exception:
            log.exception("MQTT %s: error in %s", self._where, what)

    def _handle_connect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._paho_callback("connect handler"):
            if reason_code.is_failure:
                log.warning("MQTT %s: connection refused: %s", self._where, reason_code)
                return
            with self._ack_lock:
                self._generation += 1
            options = SubscribeOptions(qos=1)
            _, self._subscribe_mid = client.subscribe(
                [(topic, options) for topic in self._settings.topics]
            )
            self._accepted = True
            if not flags.session_present:
                log.info(
                    "MQTT %s: new session for client id %r (none was kept by the broker)",
                    self._where,
                    self._settings.client_id,
                )
            # "Connected" waits for the SUBACK: before it, a reading can still be missed.

    def _handle_subscribe(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        with self._paho_callback("subscribe handler"):
            if mid != self._subscribe_mid:
                return
            for topic, code in zip(self._settings.topics, reason_codes, strict=False):
                if code.is_failure:
                    log.error("MQTT %s: subscription to %r refused: %s", self._where, topic, code)
            self._set_connected(True, "connected")

    def _handle_disconnect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._paho_callback("disconnect handler"):
            if self._stopping.is_set():
                self._set_connected(False, "stopped")
            else:
                log.warning("MQTT %s: disconnected: %s", self._where, reason_code)
                self._set_connected(False, str(reason_code))

    def _handle_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        """paho's path: the plain client, and packets the fast path leaves to paho."""
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            # Not acknowledged: a message whose topic is not UTF-8 breaks MQTT
            # itself (§1.5.4); the broker should never have accepted it.
            log.warning("MQTT %s: dropped a message whose topic is not UTF-8", self._where)
            return
        delivery = Delivery(topic=topic, payload=bytes(msg.payload), mid=msg.mid, qos=msg.qos)
        self._handle_publishes([delivery])

    def _handle_publishes(self, deliveries: list[Delivery]) -> None:
        """The PUBLISHes of one socket read: one receive time, one lock for all."""
        # An exception here would kill paho's network thread: catch everything.
        try:
            if self._quick_acks.on_read(len(deliveries), time.monotonic()):
                quick_ack(self._client.socket())  # first: the broker sends on meanwhile
            received_ns = time.time_ns()
            with self._ack_lock:
                generation, pending = self._generation, self._pending
                for delivery in deliveries:
                    if not delivery.qos:
                        continue
                    mid = delivery.mid
                    if mid not in pending:
                        pending[mid] = generation
                    else:
                        self._pending_more.setdefault(mid, deque()).append(generation)
            self._on_messages(deliveries, received_ns)
        except Exception:
            # Unacknowledged, what was not handed on is redelivered after a reconnect.
            log.exception("MQTT %s: error handling a read's messages", self._where)

    def _set_connected(self, connected: bool, reason: str) -> None:
        if connected == self._connected.is_set():
            return
        if connected:
            self._connected.set()
            log.debug(
                "MQTT %s: connected and subscribed to %s",
                self._where,
                ", ".join(self._settings.topics),
            )
        else:
            self._connected.clear()
        if self._on_connection_change is not None:
            try:
                self._on_connection_change(connected, reason)
            except Exception:
                log.exception("MQTT %s: error in connection-change callback", self._where)


def _reason(exc: BaseException) -> str:
    """One line: the OS error text without errno noise, or the exception's text."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
