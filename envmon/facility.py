"""The facility file: rooms, sensors and limit overrides, validated.

The file says what is monitored and against what. Built-in Annex 1 numbers
live in ``gmp.py``; this module only holds what the site wrote, checked for
consistency so that a mistake is refused at start with its key named.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from envmon.errors import ConfigError, format_validation_error
from envmon.readings import PARAMETERS, Kind, RoomState

Grade = Literal["A", "B", "C", "D"]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LimitRule(_Strict):
    """What the facility file may say about one parameter of one room.

    Every key is optional: a rule overrides only what it names; the rest
    comes from the Annex 1 tables (particles) or stays unset.
    """

    alert_high: float | None = None
    action_high: float | None = None
    alert_low: float | None = None
    action_low: float | None = None
    delay_s: Annotated[float, Field(ge=0)] | None = None
    consecutive: Annotated[int, Field(ge=1)] | None = None
    n_of_m: tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]] | None = None
    window_s: Annotated[float, Field(gt=0)] | None = None
    deadband: Annotated[float, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> LimitRule:
        if self.n_of_m is not None and self.n_of_m[0] > self.n_of_m[1]:
            raise ValueError(f"n_of_m {list(self.n_of_m)}: N must not exceed M")
        if (
            self.alert_high is not None
            and self.action_high is not None
            and self.alert_high > self.action_high
        ):
            raise ValueError(
                f"alert_high {self.alert_high} is above action_high {self.action_high}"
            )
        if (
            self.alert_low is not None
            and self.action_low is not None
            and self.alert_low < self.action_low
        ):
            raise ValueError(f"alert_low {self.alert_low} is below action_low {self.action_low}")
        return self


class ParameterLimits(LimitRule):
    """A parameter's rule, with optional overrides for one room state only."""

    at_rest: LimitRule | None = None
    in_operation: LimitRule | None = None

    def for_state(self, state: RoomState) -> LimitRule:
        """This rule with the state's own keys laid over it."""
        specific = self.at_rest if state is RoomState.AT_REST else self.in_operation
        base = self.model_dump(exclude={"at_rest", "in_operation"})
        if specific is not None:
            base.update(specific.model_dump(exclude_none=True))
        return LimitRule(**base)


class Room(_Strict):
    id: Identifier
    name: str = ""
    grade: Grade | None = None
    iso_class: Annotated[float, Field(ge=1, le=9)] | None = None
    reference: Identifier | None = None
    default_state: RoomState = RoomState.IN_OPERATION
    limits: dict[str, ParameterLimits] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_parameters(self) -> Room:
        for parameter in self.limits:
            if parameter not in PARAMETERS:
                raise ValueError(
                    f"limits.{parameter}: unknown parameter (known: {', '.join(PARAMETERS)})"
                )
        if self.grade is None and self.iso_class is None:
            raise ValueError("a room needs a GMP 'grade' (A-D) or an 'iso_class'")
        return self

    @property
    def grade_tag(self) -> str:
        """The InfluxDB ``grade`` tag: the GMP grade, else ``ISO<n>``."""
        if self.grade is not None:
            return self.grade
        assert self.iso_class is not None
        return f"ISO{self.iso_class:g}"


class Sensor(_Strict):
    id: Identifier
    room: Identifier
    kind: Kind
    interval_s: Annotated[float, Field(gt=0)] = 60.0
    stale_after_s: Annotated[float, Field(gt=0)] | None = None

    @property
    def stale_after(self) -> float:
        """Communication-loss threshold; three missed intervals unless set."""
        return self.stale_after_s if self.stale_after_s is not None else 3 * self.interval_s


class StateSchedule(_Strict):
    """A cron rule that puts a room into a state (e.g. production shifts)."""

    room: Identifier
    state: RoomState
    cron: str
    timezone: str = "UTC"


class FacilityModel(_Strict):
    site: Identifier
    rooms: list[Room]
    sensors: list[Sensor] = Field(default_factory=list)
    schedules: list[StateSchedule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> FacilityModel:
        room_ids = [r.id for r in self.rooms]
        _no_duplicates("rooms", room_ids)
        _no_duplicates("sensors", [s.id for s in self.sensors])
        known = set(room_ids)
        for i, room in enumerate(self.rooms):
            if room.reference is not None and room.reference not in known:
                raise ValueError(f"rooms[{i}] ({room.id}).reference: no room {room.reference!r}")
        for i, sensor in enumerate(self.sensors):
            if sensor.room not in known:
                raise ValueError(f"sensors[{i}] ({sensor.id}).room: no room {sensor.room!r}")
        for i, schedule in enumerate(self.schedules):
            if schedule.room not in known:
                raise ValueError(f"schedules[{i}].room: no room {schedule.room!r}")
        return self


def _no_duplicates(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for ident in ids:
        if ident in seen:
            raise ValueError(f"{what}: id {ident!r} appears twice")
        seen.add(ident)


@dataclass(frozen=True)
class Facility:
    """A validated facility file with lookup tables, and the hash of its bytes."""

    model: FacilityModel
    path: Path | None
    sha256: str

    @property
    def site(self) -> str:
        return self.model.site

    @cached_property
    def rooms(self) -> Mapping[str, Room]:
        return {r.id: r for r in self.model.rooms}

    @cached_property
    def sensors(self) -> Mapping[str, Sensor]:
        return {s.id: s for s in self.model.sensors}

    def sensors_in(self, room_id: str) -> list[Sensor]:
        return [s for s in self.model.sensors if s.room == room_id]


def parse_facility(text: str, path: Path | None = None) -> Facility:
    """Validate facility TOML text; raises ``ConfigError`` naming the file and key."""
    where = str(path) if path else "<facility>"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    try:
        model = FacilityModel.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(where, exc)) from None
    return Facility(model=model, path=path, sha256=hashlib.sha256(text.encode()).hexdigest())


def load_facility(path: Path) -> Facility:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read facility file: {exc.strerror}") from None
    return parse_facility(text, path)
