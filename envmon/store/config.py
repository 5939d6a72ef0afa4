"""Settings of the storage stage: ``[influx]`` and ``[storage]`` in envmon.toml."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InfluxSettings(_Section):
    url: str = "http://127.0.0.1:8086"
    api: Literal["v1", "v2"] = "v2"
    bucket: str = "envmon"
    org: str = "envmon"
    token: SecretStr | None = None
    token_file: Path | None = None
    database: str = "envmon"
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    timeout_s: Annotated[float, Field(gt=0)] = 10.0
    batch_size: Annotated[int, Field(ge=1)] = 5000
    # One write per second at a steady trickle: every HTTP request has a fixed cost
    # on the store thread, whatever its size, so a trickle is written in few of them.
    flush_interval_s: Annotated[float, Field(gt=0)] = 1.0
    retry_min_s: Annotated[float, Field(gt=0)] = 0.5
    retry_max_s: Annotated[float, Field(gt=0)] = 30.0

    @property
    def query_database(self) -> str:
        """The InfluxQL database: the bucket on 2.x/3.x, the database on 1.x."""
        return self.bucket if self.api == "v2" else self.database


class StorageSettings(_Section):
    state_dir: Path = Path("/var/lib/envmon")
    spool_max_mb: Annotated[float, Field(gt=0)] = 1024.0
    # Warn loudly from this fill level on, so an operator acts before refusal.
    spool_warn_pct: Annotated[float, Field(gt=0, le=100)] = 80.0
    # The journal key: with it every journal entry is chained with HMAC-SHA256,
    # so the chain cannot be rewritten by someone who can write the file but
    # lacks the key. From the environment, this file, or the systemd credential
    # storage_journal_key.
    journal_key: SecretStr | None = None
    journal_key_file: Path | None = None
    # How often the journal's chain head is written to InfluxDB (`audit_anchor`).
    anchor_interval_s: Annotated[float, Field(gt=0)] = 300.0

    @property
    def journal_key_bytes(self) -> bytes | None:
        """The journal key as the chain uses it; None when not set."""
        if self.journal_key is None:
            return None
        return self.journal_key.get_secret_value().encode("utf-8")

    @property
    def journal_path(self) -> Path:
        return self.state_dir / "journal.sqlite"

    @property
    def spool_path(self) -> Path:
        return self.state_dir / "spool.sqlite"
