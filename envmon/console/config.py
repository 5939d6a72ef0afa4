"""Settings of the web console: ``[console]`` in envmon.toml, and where it may listen.

Without a certificate the console serves plain HTTP, so it refuses any
address but loopback: a password typed into a signature dialog must never
cross a network in clear text. A site that wants the console on its network
gives it the site's own certificate (``cert_file``, ``key_file``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from envmon.errors import ConfigError


class ConsoleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # host:port; [::1]:8443 for IPv6.
    listen: str = "127.0.0.1:8443"
    # PEM files of the site's own certificate; both or neither.
    cert_file: Path | None = None
    key_file: Path | None = None
    # A session with no request from its user for this long is signed out.
    session_idle_s: Annotated[float, Field(gt=0)] = 900.0


@dataclass(frozen=True, slots=True)
class ListenAddress:
    """Where the console listens, and whether it speaks HTTPS there."""

    host: str
    port: int
    tls: bool

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}/"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port``) as (host, port); ``ConfigError`` naming the key."""
    where = f"console.listen = {value!r}"
    host, sep, port_text = value.rpartition(":")
    if not sep or not host:
        raise ConfigError(f"{where}: expected host:port, e.g. 127.0.0.1:8443")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(f"{where}: the port {port_text!r} is not a number") from None
    if not 0 < port < 65536:
        raise ConfigError(f"{where}: the port must be 1 to 65535")
    return host, port


def resolve_listen(settings: ConsoleSettings, config_path: Path | None = None) -> ListenAddress:
    """The address to serve on, refused beyond loopback without a certificate."""
    where = f"{config_path}: " if config_path else ""
    host, port = parse_listen(settings.listen)
    if (settings.cert_file is None) != (settings.key_file is None):
        missing = "key_file" if settings.key_file is None else "cert_file"
        raise ConfigError(f"{where}console.{missing}: HTTPS needs both cert_file and key_file")
    tls = settings.cert_file is not None
    if not tls and not is_loopback(host):
        raise ConfigError(
            f"{where}console.listen = {settings.listen!r}: the console serves plain HTTP only on "
            "loopback (127.0.0.1, ::1); set console.cert_file and console.key_file to serve "
            "HTTPS on another address"
        )
    for key in ("cert_file", "key_file"):
        path: Path | None = getattr(settings, key)
        if path is not None and not path.is_file():
            raise ConfigError(f"{where}console.{key}: {path} is not a readable file")
    return ListenAddress(host=host, port=port, tls=tls)
