"""Settings of the ingest stage: ``[mqtt]`` and ``[ingest]`` in envmon.toml."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr


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
    reconnect_min_s: Annotated[float, Field(gt=0)] = 1.0
    reconnect_max_s: Annotated[float, Field(gt=0)] = 60.0
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None


class IngestSettings(_Section):
    max_payload_bytes: Annotated[int, Field(ge=64)] = 64 * 1024
    # Readings whose timestamp is further than this from the receive time are
    # rejected: a sensor clock this wrong would misplace an excursion.
    max_future_s: Annotated[float, Field(gt=0)] = 300.0
    max_past_s: Annotated[float, Field(gt=0)] = 7 * 24 * 3600.0
    reject_log_interval_s: Annotated[float, Field(ge=0)] = 60.0
