"""Settings of calibration reminders: ``[calibration]`` in envmon.toml."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class CalibrationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Days before a sensor's calibration due date on which a reminder goes to the
    # notifiers (0: on the due date itself). After it, the calibration alarm.
    remind_days: list[Annotated[int, Field(ge=0, le=3650)]] = Field(
        default_factory=lambda: [30, 7, 0]
    )
