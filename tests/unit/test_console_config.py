"""The console's listen address: parsed, and refused beyond loopback without HTTPS."""

from __future__ import annotations

from pathlib import Path

import pytest

from envmon.console.config import ConsoleSettings, is_loopback, parse_listen, resolve_listen
from envmon.errors import ConfigError


class TestParseListen:
    def test_host_and_port(self) -> None:
        """host:port splits at the last colon."""
        assert parse_listen("127.0.0.1:8443") == ("127.0.0.1", 8443)

    def test_ipv6_in_brackets(self) -> None:
        """[::1]:8443 is the IPv6 loopback."""
        assert parse_listen("[::1]:8443") == ("::1", 8443)

    @pytest.mark.parametrize("value", ["8443", ":8443", "host:", "host:x", "host:0", "h:70000"])
    def test_nonsense_names_the_key(self, value: str) -> None:
        """A wrong value is one error naming console.listen."""
        with pytest.raises(ConfigError, match=r"console\.listen"):
            parse_listen(value)


class TestIsLoopback:
    @pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "localhost"])
    def test_loopback(self, host: str) -> None:
        """127.0.0.0/8, ::1 and localhost are loopback."""
        assert is_loopback(host)

    @pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "console.example", ""])
    def test_not_loopback(self, host: str) -> None:
        """Wildcards, private addresses and names are not."""
        assert not is_loopback(host)


class TestResolveListen:
    def test_default_is_plain_http_on_loopback(self) -> None:
        """Without certificate the default serves http://127.0.0.1:8443/."""
        listen = resolve_listen(ConsoleSettings())
        assert (listen.host, listen.port, listen.tls) == ("127.0.0.1", 8443, False)
        assert listen.url == "http://127.0.0.1:8443/"

    def test_other_address_without_certificate_is_refused(self) -> None:
        """One clear error says HTTPS is needed beyond loopback."""
        with pytest.raises(ConfigError, match=r"only on loopback.*cert_file and console\.key_file"):
            resolve_listen(ConsoleSettings(listen="0.0.0.0:8443"), Path("/etc/envmon/envmon.toml"))

    def test_with_certificate_any_address_serves_https(self, tmp_path: Path) -> None:
        """Given both files, the console serves HTTPS on any address."""
        cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
        cert.write_text("x")
        key.write_text("x")
        listen = resolve_listen(ConsoleSettings(listen="[::]:443", cert_file=cert, key_file=key))
        assert listen.tls
        assert listen.url == "https://[::]:443/"

    def test_one_file_without_the_other_is_refused(self, tmp_path: Path) -> None:
        """A certificate without its key names the missing key."""
        cert = tmp_path / "c.pem"
        cert.write_text("x")
        with pytest.raises(ConfigError, match=r"console\.key_file"):
            resolve_listen(ConsoleSettings(cert_file=cert))

    def test_missing_file_is_named(self, tmp_path: Path) -> None:
        """A certificate file that is not there is named."""
        settings = ConsoleSettings(cert_file=tmp_path / "no.pem", key_file=tmp_path / "no.key")
        with pytest.raises(ConfigError, match=r"console\.cert_file.*no\.pem"):
            resolve_listen(settings)
