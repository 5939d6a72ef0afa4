"""Settings of the notification stage: ``[notify]`` in envmon.toml."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from envmon.alarms.events import Transition


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookSettings(_Section):
    url: str
    timeout_s: Annotated[float, Field(gt=0)] = 5.0
    retries: Annotated[int, Field(ge=0)] = 5


class EmailSettings(_Section):
    smtp_host: str = "127.0.0.1"
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 25
    starttls: bool = False
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    sender: str = "envmon@localhost"
    recipients: list[str] = Field(default_factory=list)
    # Who hears about an action alarm nobody acknowledged in time (the
    # ordinary recipients when empty).
    escalation_recipients: list[str] = Field(default_factory=list)
    # Which transitions are emailed; escalations always are.
    transitions: list[Transition] = Field(
        default_factory=lambda: [Transition.RAISED, Transition.CLEARED]
    )
    timeout_s: Annotated[float, Field(gt=0)] = 10.0
    retries: Annotated[int, Field(ge=0)] = 3


class NotifySettings(_Section):
    webhooks: list[WebhookSettings] = Field(default_factory=list)
    email: EmailSettings | None = None
    escalate_after_s: Annotated[float, Field(gt=0)] = 900.0
    # A channel that raises again within this time is not re-notified.
    flap_suppress_s: Annotated[float, Field(ge=0)] = 300.0
    # Failed deliveries are retried after this, doubling up to retry_max_s.
    retry_initial_s: Annotated[float, Field(gt=0)] = 1.0
    retry_max_s: Annotated[float, Field(gt=0)] = 60.0
