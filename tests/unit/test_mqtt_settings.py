"""[mqtt] settings that choose and tune the MQTT client, and what MqttSource makes of them."""

from __future__ import annotations

import logging
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from envmon.errors import ConfigError
from envmon.ingest import _paho_fast
from envmon.ingest.config import MqttSettings
from envmon.ingest.mqtt import MqttSource
from envmon.settings import load_settings


def _write(tmp_path: Path, mqtt: str) -> Path:
    path = tmp_path / "envmon.toml"
    path.write_text(f"[mqtt]\n{mqtt}\n")
    return path


def _client_of(settings: MqttSettings) -> paho.Client:
    """The paho client a source builds (building one does no I/O)."""
    source = MqttSource(settings, lambda batch, received_ns: None)
    return source._client


class TestReaderSetting:
    def test_auto_by_default(self, tmp_path: Path) -> None:
        """Without the key, the reader is chosen by the installed paho (``auto``)."""
        assert load_settings(_write(tmp_path, "")).mqtt.reader == "auto"

    def test_each_reader_is_accepted(self, tmp_path: Path) -> None:
        """``auto``, ``buffered`` and ``paho`` load."""
        for reader in ("auto", "buffered", "paho"):
            assert load_settings(_write(tmp_path, f'reader = "{reader}"')).mqtt.reader == reader

    def test_another_reader_is_refused_naming_the_key(self, tmp_path: Path) -> None:
        """A reader name envmon does not know fails at load, naming ``mqtt.reader``."""
        with pytest.raises(ConfigError, match=r"envmon\.toml: mqtt\.reader: "):
            load_settings(_write(tmp_path, 'reader = "fast"'))


class TestClientChoice:
    def test_auto_takes_the_buffered_reader_on_a_verified_paho(self) -> None:
        """On paho-mqtt 2.2 ``auto`` runs the buffered reader."""
        assert type(_client_of(MqttSettings())) is _paho_fast.BufferedClient

    def test_auto_falls_back_to_plain_paho(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """On a paho the buffered reader was not verified for, ``auto`` runs plain paho."""
        monkeypatch.setattr(_paho_fast, "supported", lambda: False)
        assert type(_client_of(MqttSettings())) is paho.Client

    def test_paho_is_plain_paho(self) -> None:
        """``reader = "paho"`` runs plain paho even where the buffered reader is supported."""
        assert type(_client_of(MqttSettings(reader="paho"))) is paho.Client

    def test_buffered_on_an_unverified_paho_fails_clearly(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """``reader = "buffered"`` on another paho version refuses to start, in one line
        naming the key, the verified range, the installed version and the way out."""
        monkeypatch.setattr(_paho_fast, "supported", lambda: False)
        monkeypatch.setattr(_paho_fast, "paho_version", lambda: "2.1.0")
        with pytest.raises(ConfigError) as err:
            _client_of(MqttSettings(reader="buffered"))
        message = str(err.value)
        assert "\n" not in message
        for part in ('[mqtt] reader = "buffered"', ">= 2.2, < 2.3", "2.1.0", '"paho"'):
            assert part in message

    def test_the_client_in_use_is_logged_once(self, caplog: pytest.LogCaptureFixture) -> None:
        """One INFO line names the client and the paho-mqtt version."""
        with caplog.at_level(logging.INFO, logger="envmon.ingest"):
            _client_of(MqttSettings(reader="paho"))
            _client_of(MqttSettings(reader="buffered"))
        lines = [r.getMessage() for r in caplog.records if "MQTT client:" in r.getMessage()]
        version = _paho_fast.paho_version()
        assert lines == [
            f"MQTT client: plain paho, paho-mqtt {version}",
            f"MQTT client: buffered reader (envmon.ingest._paho_fast), paho-mqtt {version}",
        ]

    def test_writes_are_left_to_the_network_thread(self) -> None:
        """Both clients have a write watcher set, so paho queues instead of writing on
        the caller's thread (paho's _packet_queue)."""
        for reader in ("buffered", "paho"):
            assert _client_of(MqttSettings(reader=reader)).on_socket_register_write is not None


class TestReadCoalesceRemoved:
    def test_an_old_config_still_loads(self, tmp_path: Path) -> None:
        """A settings file of an earlier envmon that names ``read_coalesce_s`` loads."""
        settings = load_settings(_write(tmp_path, "read_coalesce_s = 0.02"))
        assert settings.mqtt.read_coalesce_s == 0.02

    def test_it_is_ignored_with_one_warning_naming_it(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The source warns once, naming the key, and reads as without it."""
        with caplog.at_level(logging.WARNING, logger="envmon.ingest"):
            client = _client_of(MqttSettings(read_coalesce_s=0.02))
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "[mqtt] read_coalesce_s" in warnings[0]
        assert not hasattr(client, "read_coalesce_s")

    def test_no_warning_without_it(self, caplog: pytest.LogCaptureFixture) -> None:
        """A current config gives no warning."""
        with caplog.at_level(logging.WARNING, logger="envmon.ingest"):
            _client_of(MqttSettings())
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


class TestSendBuffer:
    def test_unset_by_default(self) -> None:
        """By default the kernel sizes the send buffer; no socket callback is set."""
        assert MqttSettings().socket_send_buffer_bytes is None
        assert _client_of(MqttSettings()).on_socket_open is None

    def test_set_on_each_connection(self) -> None:
        """A size installs the callback that sets SO_SNDBUF on each new socket."""
        assert _client_of(MqttSettings(socket_send_buffer_bytes=4096)).on_socket_open is not None

    def test_a_tiny_buffer_is_refused(self, tmp_path: Path) -> None:
        """Below 1 KiB is refused at load, naming the key."""
        with pytest.raises(ConfigError, match=r"mqtt\.socket_send_buffer_bytes"):
            load_settings(_write(tmp_path, "socket_send_buffer_bytes = 100"))
