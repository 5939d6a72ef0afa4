"""Settings sections ``[security]`` and ``[signatures]`` (design.md section 8)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from envmon.signing.rules import DEFAULT_MEANINGS, SecurityPolicy


class SecuritySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_password_length: Annotated[int, Field(ge=8, le=128)] = 10
    # Failed attempts (wrong user name or password) that lock a name out ...
    max_failed_attempts: Annotated[int, Field(ge=1)] = 5
    # ... for this long (seconds).
    lockout_s: Annotated[float, Field(gt=0)] = 900.0
    # A password older than this is refused until it is changed; 0 = never.
    password_max_age_days: Annotated[int, Field(ge=0)] = 180

    def policy(self) -> SecurityPolicy:
        return SecurityPolicy(
            min_password_length=self.min_password_length,
            max_failed_attempts=self.max_failed_attempts,
            lockout_s=self.lockout_s,
            password_max_age_days=self.password_max_age_days,
        )


class SignatureSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The meanings a signature may carry (--meaning); each act has a default.
    meanings: list[str] = Field(default_factory=lambda: list(DEFAULT_MEANINGS))

    @field_validator("meanings")
    @classmethod
    def _distinct_words(cls, value: list[str]) -> list[str]:
        cleaned = [m.strip() for m in value]
        if not cleaned:
            raise ValueError("at least one meaning is needed")
        if any(not m for m in cleaned):
            raise ValueError("a meaning may not be blank")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("meanings must be distinct")
        return cleaned
