"""A test broker as envmon and its publishers reach it: plain TCP, or TLS with client
certificates that Mosquitto requires.

Tests that must hold over both transports take an ``Endpoint`` (the
``endpoint`` fixture in tests/conftest.py, parametrized ``"plain"``/``"tls"``)
and build their settings and clients from it, never from the broker alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.certs import Pki, make_pki
from tests.support.servers import Mosquitto
from tests.support.wait import wait_until

TRANSPORTS = ("plain", "tls")
READERS = ("buffered", "paho")
"""The two values of ``[mqtt] reader`` that name a client (``"auto"`` picks one)."""


def mosquitto_tls_conf(pki: Pki) -> str:
    """Mosquitto's listener settings for TLS 1.2+ with a client certificate of the
    test CA required (and its common name as the user name)."""
    return (
        f"cafile {pki.ca_cert}\n"
        f"certfile {pki.server.cert}\n"
        f"keyfile {pki.server.key}\n"
        "require_certificate true\n"
        "use_identity_as_username true\n"
        "tls_version tlsv1.2\n"
    )


@dataclass(frozen=True)
class Endpoint:
    """A started broker and, for TLS, the PKI its clients need."""

    broker: Mosquitto
    pki: Pki | None

    @property
    def port(self) -> int:
        return self.broker.port

    @property
    def transport(self) -> str:
        return "plain" if self.pki is None else "tls"

    def settings(self) -> dict[str, Any]:
        """``MqttSettings`` keywords to reach the broker (TLS keys included)."""
        out: dict[str, Any] = {"host": "127.0.0.1", "port": self.port}
        if self.pki is not None:
            out.update(
                tls=True,
                ca_file=self.pki.ca_cert,
                cert_file=self.pki.client.cert,
                key_file=self.pki.client.key,
            )
        return out

    def toml(self) -> str:
        """The TLS lines of envmon.toml's ``[mqtt]`` (nothing for plain TCP)."""
        if self.pki is None:
            return ""
        return (
            "tls = true\n"
            f'ca_file = "{self.pki.ca_cert}"\n'
            f'cert_file = "{self.pki.client.cert}"\n'
            f'key_file = "{self.pki.client.key}"\n'
        )

    def client(
        self, client_id: str, protocol: paho.MQTTProtocolVersion = paho.MQTTv311
    ) -> paho.Client:
        """A paho client (not connected) set up for this transport."""
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
        configure_tls(client, self.pki)
        return client


def configure_tls(client: paho.Client, pki: Pki | None) -> None:
    """TLS with the test CA's client certificate; nothing when ``pki`` is None."""
    if pki is not None:
        client.tls_set(
            ca_certs=str(pki.ca_cert), certfile=str(pki.client.cert), keyfile=str(pki.client.key)
        )


def start_endpoint(workdir: Path, transport: str) -> Endpoint:
    """A started Mosquitto under ``workdir`` for ``transport`` (``"plain"``/``"tls"``)."""
    if transport not in TRANSPORTS:
        raise ValueError(f"transport {transport!r}: not one of {TRANSPORTS}")
    pki = make_pki(workdir / "pki") if transport == "tls" else None
    broker = Mosquitto(
        workdir / f"mosquitto-{transport}",
        extra_conf=mosquitto_tls_conf(pki) if pki is not None else "",
    )
    broker.start()
    return Endpoint(broker, pki)


def wait_client_gone(broker: Mosquitto, client_id: str, times: int = 1) -> None:
    """Until the broker has logged ``times`` disconnections of ``client_id``.

    Mosquitto reads one packet per wake-up of a plain TCP connection, and a new
    connection under the same client id takes the session over at once: PUBACKs
    still unread on the old connection are then dropped and their messages
    redelivered. A test that reconnects under the same id and counts
    redeliveries waits for this first.
    """
    wait_until(
        lambda: (
            broker.log_path.read_text(errors="replace").count(f"Client {client_id} disconnected")
            >= times
        ),
        timeout_s=10,
        what=f"the broker to log client {client_id!r} disconnected {times} time(s)",
    )
