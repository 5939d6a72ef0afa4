"""Service settings: TOML file, environment overrides, secrets, precise errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from envmon.errors import ConfigError
from envmon.settings import load_settings, resolve_config_path


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "envmon.toml"
    path.write_text(text)
    return path


class TestLoadSettings:
    def test_defaults_apply_to_an_empty_file(self, tmp_path: Path) -> None:
        """An empty file gives the contract's defaults."""
        s = load_settings(write(tmp_path, ""))
        assert (s.mqtt.host, s.mqtt.port, s.mqtt.client_id, s.mqtt.prefix) == (
            "127.0.0.1",
            1883,
            "envmon",
            "fac",
        )
        assert s.mqtt.topics == ["fac/#"]
        assert (s.influx.api, s.influx.bucket, s.influx.org) == ("v2", "envmon", "envmon")

    def test_environment_overrides_the_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """ENVMON_<SECTION>__<KEY> wins over the TOML value."""
        monkeypatch.setenv("ENVMON_MQTT__PORT", "2883")
        s = load_settings(write(tmp_path, "[mqtt]\nport = 1999\n"))
        assert s.mqtt.port == 2883

    def test_relative_paths_are_relative_to_the_file(self, tmp_path: Path) -> None:
        """facility.file and storage.state_dir resolve against the settings file's folder."""
        s = load_settings(
            write(tmp_path, '[facility]\nfile = "f.toml"\n[storage]\nstate_dir = "st"\n')
        )
        assert s.facility.file == tmp_path / "f.toml"
        assert s.storage.state_dir == tmp_path / "st"

    def test_token_file_is_read_and_never_printed(self, tmp_path: Path) -> None:
        """A secret from token_file is available but hidden in repr."""
        (tmp_path / "tok").write_text("s3cret\n")
        s = load_settings(write(tmp_path, '[influx]\ntoken_file = "tok"\n'))
        assert s.influx.token is not None
        assert s.influx.token.get_secret_value() == "s3cret"
        assert "s3cret" not in repr(s) and "s3cret" not in str(s.model_dump())

    def test_systemd_credential_fills_a_missing_secret(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """$CREDENTIALS_DIRECTORY/mqtt_password supplies the MQTT password."""
        creds = tmp_path / "creds"
        creds.mkdir()
        (creds / "mqtt_password").write_text("pw")
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
        s = load_settings(write(tmp_path, ""))
        assert s.mqtt.password is not None and s.mqtt.password.get_secret_value() == "pw"

    def test_unknown_key_is_named_with_the_file(self, tmp_path: Path) -> None:
        """A typo names file and dotted key."""
        path = write(tmp_path, "[mqtt]\nprt = 1\n")
        with pytest.raises(ConfigError, match=r"envmon.toml: mqtt.prt: unknown key"):
            load_settings(path)

    def test_wrong_type_is_named(self, tmp_path: Path) -> None:
        """A value of the wrong type names the key."""
        with pytest.raises(ConfigError, match=r"mqtt.port"):
            load_settings(write(tmp_path, '[mqtt]\nport = "many"\n'))

    def test_bad_toml_and_missing_file_are_clear(self, tmp_path: Path) -> None:
        """Broken TOML and a missing file each give one line naming the file."""
        with pytest.raises(ConfigError, match="not valid TOML"):
            load_settings(write(tmp_path, "[mqtt\n"))
        with pytest.raises(ConfigError, match="cannot read settings file"):
            load_settings(tmp_path / "absent.toml")

    def test_missing_secret_file_names_the_key(self, tmp_path: Path) -> None:
        """A token_file that cannot be read names influx.token_file."""
        with pytest.raises(ConfigError, match=r"influx\.token_file"):
            load_settings(write(tmp_path, '[influx]\ntoken_file = "nope"\n'))

    def test_config_path_resolution_order(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """--config, then $ENVMON_CONFIG, then /etc/envmon/envmon.toml."""
        monkeypatch.delenv("ENVMON_CONFIG", raising=False)
        assert resolve_config_path(None) == Path("/etc/envmon/envmon.toml")
        monkeypatch.setenv("ENVMON_CONFIG", "/x/e.toml")
        assert resolve_config_path(None) == Path("/x/e.toml")
        assert resolve_config_path("/y.toml") == Path("/y.toml")

    def test_example_config_loads(self) -> None:
        """The shipped config/envmon.toml is valid."""
        s = load_settings(Path(__file__).parents[2] / "config" / "envmon.toml")
        assert s.facility.file.name == "facility.toml"
