"""The facility file's tables as pydantic models: types, ranges and required keys.

Each model checks only what it holds itself (a key's type, an alert limit
beyond its action limit); whatever needs the whole file (does that room,
equipment or parameter exist?) is checked in ``checks.py``, so that every
problem is named by its place in the file.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from envmon.readings import Kind, RoomState

Grade = Literal["A", "B", "C", "D"]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]
ParameterId = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,64}$")]
Range = tuple[float, float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LimitRule(_Strict):
    """What the facility file may say about one parameter of one room or equipment.

    Every key is optional: a rule overrides only what it names; the rest
    comes from the Annex 1 tables (room particles) or stays unset. The rate
    keys are limits on the change per minute (``alarms/rules.py`` defines the
    rule): a rise faster than ``rate_per_min_high`` (> 0), a fall faster than
    ``rate_per_min_low`` (< 0, e.g. -2 for a fall of more than 2 per minute).
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
    rate_per_min_high: float | None = None
    rate_per_min_low: float | None = None

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
        high, low = self.rate_per_min_high, self.rate_per_min_low
        if high is not None and not (high > 0 and math.isfinite(high)):
            raise ValueError(
                f"rate_per_min_high {high:g} must be above 0: a rise faster than this per minute"
            )
        if low is not None and not (low < 0 and math.isfinite(low)):
            raise ValueError(
                f"rate_per_min_low {low:g} must be below 0: a fall faster than "
                f"{abs(low):g} per minute is rate_per_min_low = {-abs(low):g}"
            )
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
    default_state: Literal["strictest", "at_rest", "in_operation"] = "strictest"
    """The state until one is known; ``strictest`` judges by the stricter limit of the two."""
    clean_up_s: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 1200.0
    """After a switch from in operation to at rest, the in-operation limits apply this long."""
    limits: dict[str, ParameterLimits] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _graded(self) -> Room:
        if self.grade is None and self.iso_class is None:
            raise ValueError("a room needs a GMP 'grade' (A-D) or an 'iso_class'")
        return self

    @property
    def default_room_state(self) -> RoomState | None:
        """``default_state`` as a room state; None for ``strictest``."""
        return None if self.default_state == "strictest" else RoomState(self.default_state)

    @property
    def grade_tag(self) -> str:
        """The InfluxDB ``grade`` tag: the GMP grade, else ``ISO<n>``."""
        if self.grade is not None:
            return self.grade
        assert self.iso_class is not None
        return f"ISO{self.iso_class:g}"


class ParameterDecl(_Strict):
    """A ``[[parameters]]`` entry: a parameter beyond the five built-in ones."""

    id: ParameterId
    name: str = ""
    unit: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[^\x00-\x1f\x7f]+$")]
    range: Range

    @property
    def label(self) -> str:
        return self.name or self.id


class Equipment(_Strict):
    """A piece of equipment in a room (incubator, freezer ...) with its own limits.

    Its limits come from its own ``[equipment.limits.<parameter>]`` tables only:
    Annex 1 grades rooms, not equipment. The room's state (at rest, in
    operation) applies to its per-state sub-tables.
    """

    id: Identifier
    room: Identifier
    type: Annotated[str, Field(min_length=1, max_length=64)]
    name: str = ""
    limits: dict[str, ParameterLimits] = Field(default_factory=dict)


class Sensor(_Strict):
    """A sensor in a room, or on a piece of equipment (``kind = "equipment"``).

    ``room`` is empty in the file for a sensor on equipment; ``parse_facility``
    fills in the equipment's room, so every loaded sensor has its room.
    """

    id: Identifier
    room: Identifier = ""
    equipment: Identifier | None = None
    kind: Kind
    parameters: tuple[ParameterId, ...] | None = None
    interval_s: Annotated[float, Field(gt=0)] = 60.0
    stale_after_s: Annotated[float, Field(gt=0)] | None = None
    range: dict[str, Range] = Field(default_factory=dict)
    calibration_due: date | None = None
    certificate: Annotated[str, Field(min_length=1, max_length=128)] | None = None

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
    parameters: list[ParameterDecl] = Field(default_factory=list)
    rooms: list[Room]
    equipment: list[Equipment] = Field(default_factory=list)
    sensors: list[Sensor] = Field(default_factory=list)
    schedules: list[StateSchedule] = Field(default_factory=list)
