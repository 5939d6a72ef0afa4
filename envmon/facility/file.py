"""A loaded facility file: validated, its sensors placed, with lookup tables."""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from envmon.errors import ConfigError, format_validation_error
from envmon.facility.checks import problems
from envmon.facility.model import Equipment, FacilityModel, Room, Sensor
from envmon.facility.parameters import ParameterInfo, parameter_registry
from envmon.readings import PARAMETERS_BY_KIND, Kind

_T = TypeVar("_T")


@dataclass(frozen=True)
class Facility:
    """A validated facility file with lookup tables, and the hash of its bytes.

    Every sensor in ``model.sensors`` has its room set, for a sensor on
    equipment the equipment's room.
    """

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

    @cached_property
    def equipment(self) -> Mapping[str, Equipment]:
        return {e.id: e for e in self.model.equipment}

    @cached_property
    def parameters(self) -> Mapping[str, ParameterInfo]:
        """Every parameter: the five built-in ones, then the declared ones."""
        return parameter_registry(self.model.parameters)

    def sensors_in(self, room_id: str) -> list[Sensor]:
        """The room's own sensors (not those on its equipment)."""
        return list(self._room_sensors.get(room_id, ()))

    def sensors_on(self, equipment_id: str) -> list[Sensor]:
        return list(self._equipment_sensors.get(equipment_id, ()))

    def equipment_in(self, room_id: str) -> list[Equipment]:
        return list(self._room_equipment.get(room_id, ()))

    # Indexes, so that asking for every room's sensors is linear in the facility's size:
    # a campus has thousands of rooms and ten thousand sensors.

    @cached_property
    def _room_sensors(self) -> Mapping[str, list[Sensor]]:
        return _grouped(self.model.sensors, lambda s: s.room if s.equipment is None else None)

    @cached_property
    def _equipment_sensors(self) -> Mapping[str, list[Sensor]]:
        return _grouped(self.model.sensors, lambda s: s.equipment)

    @cached_property
    def _room_equipment(self) -> Mapping[str, list[Equipment]]:
        return _grouped(self.model.equipment, lambda e: e.room)

    def unit_of(self, parameter: str) -> str:
        info = self.parameters.get(parameter)
        return info.unit if info is not None else ""

    def range_of(self, sensor: Sensor, parameter: str) -> tuple[float, float]:
        """The sensor's measuring range for ``parameter``: its datasheet's, else the
        parameter's plausible range."""
        narrowed = sensor.range.get(parameter)
        if narrowed is not None:
            return narrowed
        return self.parameters[parameter].range


def _grouped(items: Iterable[_T], key: Callable[[_T], str | None]) -> dict[str, list[_T]]:
    """The items under their key, in their order; an item whose key is None is left out."""
    out: dict[str, list[_T]] = {}
    for item in items:
        k = key(item)
        if k is not None:
            out.setdefault(k, []).append(item)
    return out


def parameters_of(sensor: Sensor) -> tuple[str, ...]:
    """What a sensor measures: its kind's parameters, or the ones an equipment sensor lists."""
    if sensor.kind is Kind.EQUIPMENT:
        return sensor.parameters or ()
    return PARAMETERS_BY_KIND[sensor.kind]


def parse_facility(text: str, path: Path | None = None) -> Facility:
    """Validate facility TOML text; raises ``ConfigError`` naming the file and key
    (one line per problem)."""
    where = str(path) if path else "<facility>"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    try:
        model = FacilityModel.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(where, exc)) from None
    found = problems(model)
    if found:
        raise ConfigError("\n".join(f"{where}: {p}" for p in found))
    placed = _placed(model)
    _share_fields_sets(placed)
    return Facility(model=placed, path=path, sha256=facility_sha256(text))


def facility_sha256(text: str) -> str:
    """A facility's ``sha256``: of its text as read (``read_facility_text``), UTF-8
    encoded, so a file and the text the journal keeps of it hash alike."""
    return hashlib.sha256(text.encode()).hexdigest()


def _placed(model: FacilityModel) -> FacilityModel:
    """Sensors on equipment get the equipment's room."""
    rooms = {e.id: e.room for e in model.equipment}
    sensors = [
        s.model_copy(update={"room": rooms[s.equipment]}) if s.equipment is not None else s
        for s in model.sensors
    ]
    return model.model_copy(update={"sensors": sensors})


def _share_fields_sets(model: FacilityModel) -> None:
    """Models given the same keys share one record of which keys they were given.

    Pydantic keeps that record (``model_fields_set``) per instance, and a set of
    five or more names takes 728 bytes: a facility of 10 000 sensors spent about
    8 MiB on copies of a few distinct sets (the RSS target, bench/README.md).
    Safe because every facility model is frozen (nothing adds to the set in
    place) and ``model_copy`` copies the set before updating it.
    """
    shared: dict[frozenset[str], set[str]] = {}
    pending: list[object] = [model]
    while pending:
        item = pending.pop()
        if isinstance(item, BaseModel):
            given = item.__pydantic_fields_set__
            object.__setattr__(
                item, "__pydantic_fields_set__", shared.setdefault(frozenset(given), given)
            )
            pending.extend(item.__dict__.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.values())


def read_facility_text(path: Path) -> str:
    """The file's text (newlines read as ``\\n``); ``ConfigError`` naming the file if
    it cannot be read or is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read facility file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc}") from None


def load_facility(path: Path) -> Facility:
    return parse_facility(read_facility_text(path), path)
