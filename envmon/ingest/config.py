"""Settings of the ingest stage: ``[mqtt]`` and ``[ingest]`` in envmon.toml."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from envmon.errors import ConfigError
from envmon.ingest.topics import TopicPattern
from envmon.ingest.units import PER_SAMPLE, SAMPLE_VOLUME, conversion
from envmon.readings import KIND_OF_PARAMETER, PARTICLES_0_5UM, PARTICLES_5_0UM, Kind


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MqttSettings(_Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 1883
    # Fixed on purpose: the broker keeps the persistent session (and the
    # unacknowledged readings in it) under this id.
    client_id: str = "envmon"
    topics: list[str] = Field(default_factory=lambda: ["fac/#"])
    prefix: str = "fac"
    keepalive_s: Annotated[int, Field(ge=5)] = 30
    session_expiry_s: Annotated[int, Field(ge=0)] = 7 * 24 * 3600
    # MQTT 5 Receive Maximum: how many unacknowledged readings the broker may
    # have in flight to us; acks wait for durability, so this must cover a batch.
    receive_maximum: Annotated[int, Field(ge=1, le=65535)] = 20000
    # Which MQTT client reads the socket: "buffered" (envmon's fast reader,
    # envmon/ingest/_paho_fast.py, for the paho-mqtt versions it was verified
    # against), "paho" (plain paho-mqtt), or "auto" (buffered when supported).
    reader: Literal["auto", "buffered", "paho"] = "auto"
    # SO_SNDBUF of envmon's MQTT socket, bytes (the kernel doubles it); unset
    # leaves the kernel's autotuning. Only to test behaviour under back-pressure.
    socket_send_buffer_bytes: Annotated[int, Field(ge=1024)] | None = None
    # Messages a second above which envmon lets the kernel delay its TCP
    # acknowledgements, so the broker sends readings in batches (Nagle) and one
    # wake-up takes many: far less CPU per reading, but a reading may wait up to
    # about 40 ms in the broker. Below it every read is acknowledged at once
    # and nothing waits (ingest/tcp_acks.py). 0: always batch.
    batch_above_per_s: Annotated[float, Field(ge=0)] = 500.0
    # No longer used (reads are batched without waiting): accepted, so an old
    # envmon.toml still loads, and ignored with a warning at start.
    read_coalesce_s: float | None = None
    reconnect_min_s: Annotated[float, Field(gt=0)] = 1.0
    reconnect_max_s: Annotated[float, Field(gt=0)] = 60.0
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None


class FieldMap(_Section):
    """Where one value sits in a payload, and its unit (the contract unit if unset).

    ``path`` is a JSON path with ``.`` between levels (``\\.`` for a dot inside
    a key, a number for a list index), or a field key of a line-protocol line.
    """

    path: Annotated[str, Field(min_length=1)]
    unit: str | None = None


class TopicRule(_Section):
    """One ``[[ingest.topics]]`` entry: a topic pattern and how to read its payloads.

    ``pattern`` levels are literals, ``{site}``, ``{room}``, ``{kind}``,
    ``{sensor}`` (captured), ``{prefix}`` (the MQTT prefix), ``+`` (any one
    level) or a final ``#``. ``{sensor}`` is required; without ``{room}`` the
    sensor's room applies, without ``{site}`` the facility's site, without
    ``{kind}`` the rule's ``kind`` or else the sensor's own kind.
    ``fields`` maps parameter ids (and ``sample_volume``) to payload paths;
    a kind with no mapped parameter is read as the contract payload. A
    parameter the facility file declares may be mapped too (read in its
    declared unit, so without ``unit``), for sensors of kind ``equipment``;
    the facility is checked for it when the service starts.
    """

    pattern: str
    kind: Kind | None = None
    format: Literal["json", "influx"] = "json"
    timestamp: str = "ts"  # JSON path of the sample time (ISO 8601 or epoch)
    # Unit of a numeric timestamp: JSON epoch numbers, line-protocol timestamps.
    timestamp_precision: Literal["s", "ms", "us", "ns"] | None = None
    status: str = "status"  # JSON path (or line-protocol field) of the status word
    fields: dict[str, FieldMap] = Field(default_factory=dict)

    @field_validator("pattern")
    @classmethod
    def _valid_pattern(cls, pattern: str) -> str:
        TopicPattern.parse(pattern)  # ValueError names the problem
        return pattern

    @model_validator(mode="after")
    def _valid_rule(self) -> TopicRule:
        if self.kind is not None and "{kind}" in self.pattern.split("/"):
            raise ValueError("give either {kind} in pattern or a fixed kind, not both")
        for key, field in self.fields.items():
            try:
                conversion(key, field.unit, f"fields.{key}.unit")
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
            if self.kind is None or self.kind is Kind.EQUIPMENT or key == SAMPLE_VOLUME:
                continue
            if KIND_OF_PARAMETER.get(key) is not self.kind:
                raise ValueError(f"fields.{key}: not a parameter of kind {self.kind}")
        for key in (PARTICLES_0_5UM, PARTICLES_5_0UM):
            particle_field = self.fields.get(key)
            if (
                particle_field is not None
                and particle_field.unit == PER_SAMPLE
                and SAMPLE_VOLUME not in self.fields
            ):
                raise ValueError(
                    f"fields.{key}: unit {PER_SAMPLE!r} (per sample) needs "
                    f"fields.{SAMPLE_VOLUME} to convert to counts per m³"
                )
        return self

    @property
    def effective_precision(self) -> str:
        """JSON epoch numbers default to seconds, line protocol to nanoseconds."""
        if self.timestamp_precision is not None:
            return self.timestamp_precision
        return "s" if self.format == "json" else "ns"


class IngestSettings(_Section):
    max_payload_bytes: Annotated[int, Field(ge=64)] = 64 * 1024
    # Readings whose timestamp is further than this from the receive time are
    # rejected: a sensor clock this wrong would misplace an excursion.
    max_future_s: Annotated[float, Field(gt=0)] = 300.0
    max_past_s: Annotated[float, Field(gt=0)] = 7 * 24 * 3600.0
    reject_log_interval_s: Annotated[float, Field(ge=0)] = 60.0
    # Warn (log + <prefix>/<site>/envmon/warnings) when a sensor's clock is off
    # by more than this, judged over a window of readings (drift.py says why);
    # at most once per sensor per clock_drift_warn_every_s. 0 turns it off.
    clock_drift_warn_s: Annotated[float, Field(ge=0)] = 30.0
    clock_drift_window_s: Annotated[float, Field(gt=0)] = 300.0
    clock_drift_warn_every_s: Annotated[float, Field(gt=0)] = 3600.0
    # Readings waiting this long with none becoming durable mean ingest is
    # stuck: the systemd watchdog is no longer fed, so systemd restarts envmon.
    stuck_after_s: Annotated[float, Field(gt=0)] = 60.0
    # Tried in order before the contract layout, which always applies last.
    topics: list[TopicRule] = Field(default_factory=list)
    # Extra room-state topic patterns ({site}, {room}, {prefix}, +, #), tried
    # before the contract's <prefix>/<site>/<room>/state.
    state_topics: list[str] = Field(default_factory=list)

    @field_validator("state_topics")
    @classmethod
    def _valid_state_topics(cls, patterns: list[str]) -> list[str]:
        for i, pattern in enumerate(patterns):
            try:
                TopicPattern.parse(pattern, state=True)
            except ValueError as exc:
                raise ValueError(f"state_topics[{i}]: {exc}") from None
        return patterns
