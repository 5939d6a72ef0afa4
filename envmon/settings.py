"""Service settings: envmon.toml, overridden by ``ENVMON_<SECTION>__<KEY>``.

Secrets (InfluxDB token and password, MQTT password, SMTP password, the
journal key) come from the environment, from a systemd credential
(``$CREDENTIALS_DIRECTORY/<section>_<key>``, e.g. ``influx_token``,
``storage_journal_key``), or from a ``*_file`` key, in that order. They are
``SecretStr`` so that printing settings never shows them.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from envmon.calibration.config import CalibrationSettings
from envmon.console.config import ConsoleSettings
from envmon.errors import ConfigError, format_validation_error
from envmon.ingest.config import IngestSettings, MqttSettings
from envmon.journal.chain import MIN_KEY_CHARS
from envmon.notify.config import NotifySettings
from envmon.signing.config import SecuritySettings, SignatureSettings
from envmon.store.config import InfluxSettings, StorageSettings

DEFAULT_CONFIG = Path("/etc/envmon/envmon.toml")


class FacilityFileSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: Path = Path("/etc/envmon/facility.toml")


class AlarmSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # How often communication loss is checked (wall clock).
    stale_check_interval_s: Annotated[float, Field(gt=0)] = 5.0
    # How often the limits in force are written to InfluxDB (`limits`), for Grafana.
    limits_write_interval_s: Annotated[float, Field(gt=0)] = 60.0
    # Longest an alarm may be shelved (ISA-18.2): 8 hours.
    max_shelve_s: Annotated[float, Field(gt=0)] = 28_800.0


class ReportSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # A silence longer than this many expected intervals is listed as a data gap.
    gap_tolerance_intervals: Annotated[float, Field(ge=1)] = 2.0


class LogSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    stats_interval_s: Annotated[float, Field(gt=0)] = 30.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ENVMON_", env_nested_delimiter="__", extra="forbid"
    )

    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    influx: InfluxSettings = Field(default_factory=InfluxSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    facility: FacilityFileSettings = Field(default_factory=FacilityFileSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    alarms: AlarmSettings = Field(default_factory=AlarmSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    calibration: CalibrationSettings = Field(default_factory=CalibrationSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    signatures: SignatureSettings = Field(default_factory=SignatureSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    _config_path: Path | None = PrivateAttr(default=None)
    _config_sha256: str = PrivateAttr(default="")

    @property
    def config_path(self) -> Path | None:
        """The settings file these came from."""
        return self._config_path

    @property
    def config_sha256(self) -> str:
        """SHA-256 of the settings file's bytes, for reports and the journal."""
        return self._config_sha256


def resolve_config_path(cli_value: str | Path | None) -> Path:
    """``--config``, else ``$ENVMON_CONFIG``, else /etc/envmon/envmon.toml."""
    if cli_value:
        return Path(cli_value)
    env = os.environ.get("ENVMON_CONFIG")
    return Path(env) if env else DEFAULT_CONFIG


def load_settings(path: Path) -> Settings:
    """Read and validate settings; raises ``ConfigError`` naming the file and key."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read settings file: {exc.strerror}") from None
    try:
        tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None

    class _FromFile(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (
                init_settings,
                env_settings,
                TomlConfigSettingsSource(settings_cls, toml_file=path),
            )

    try:
        loaded = _FromFile()
    except ValidationError as exc:
        raise ConfigError(format_validation_error(str(path), exc)) from None
    settings: Settings = loaded
    settings._config_path = path
    settings._config_sha256 = hashlib.sha256(data).hexdigest()
    base = path.parent
    # Relative paths in the file are relative to the file, not to the cwd of
    # whoever started the service.
    settings.facility.file = _relative_to(base, settings.facility.file)
    settings.storage.state_dir = _relative_to(base, settings.storage.state_dir)
    if settings.storage.journal_key_file is not None:
        settings.storage.journal_key_file = _relative_to(base, settings.storage.journal_key_file)
    for key in ("cert_file", "key_file"):
        value = getattr(settings.console, key)
        if value is not None:
            setattr(settings.console, key, _relative_to(base, value))
    _resolve_secrets(settings, base)
    return settings


def _relative_to(base: Path, p: Path) -> Path:
    return p if p.is_absolute() else (base / p)


def _resolve_secrets(settings: Settings, base: Path) -> None:
    """Fill each secret from a systemd credential, else its ``*_file`` key.

    The credential first: the service gets it from systemd, while commands
    run by people (which have no ``$CREDENTIALS_DIRECTORY``) read the file
    the same settings name; a file private to root then serves both.
    """
    pairs: list[tuple[str, Any, str, str]] = [
        ("storage", settings.storage, "journal_key", "journal_key_file"),
        ("influx", settings.influx, "token", "token_file"),
        ("influx", settings.influx, "password", "password_file"),
        ("mqtt", settings.mqtt, "password", "password_file"),
    ]
    if settings.notify.email is not None:
        pairs.append(("notify.email", settings.notify.email, "password", "password_file"))
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    for section, model, key, file_key in pairs:
        if getattr(model, key) is not None:
            continue
        secret_path: Path | None = getattr(model, file_key)
        if secret_path is not None:
            secret_path = _relative_to(base, secret_path)
        if cred_dir:
            candidate = Path(cred_dir) / f"{section.split('.')[-1]}_{key}"
            secret_path = candidate if candidate.exists() else secret_path
        if secret_path is None:
            continue
        try:
            value = secret_path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"{settings.config_path}: {section}.{file_key}: cannot read {secret_path}: "
                f"{exc.strerror}"
            ) from None
        setattr(model, key, SecretStr(value))
    _check_journal_key(settings)


def _check_journal_key(settings: Settings) -> None:
    key = settings.storage.journal_key
    if key is None:
        return
    length = len(key.get_secret_value())
    if length < MIN_KEY_CHARS:
        source = settings.storage.journal_key_file
        where = f"storage.journal_key_file: the key in {source}" if source else "the journal key"
        raise ConfigError(
            f"{settings.config_path}: {where} has {length} characters, fewer than "
            f"{MIN_KEY_CHARS} (make one with `head -c 32 /dev/urandom | base64`)"
        )
