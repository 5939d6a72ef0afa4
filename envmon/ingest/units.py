"""Unit conversions applied at ingest, so nothing downstream sees another unit.

Each parameter has its contract unit (``readings.UNIT_OF_PARAMETER``); a
sensor may report in another unit of the same quantity, named in the topic
rule's field mapping. ``conversion(parameter, unit, key)`` resolves the name
once, at configuration time; the returned ``Conversion`` is applied per value.

Particle concentrations have one extra unit, ``count``: counts per sample,
turned into counts per m³ with the sample volume (litres / 1000).

A parameter the facility file declares (``[[parameters]]``, e.g. ``co2``) is
read in the unit declared there: its mapping takes no ``unit``. Whether such a
key is declared is checked against the facility (``ingest.ingestor``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from envmon.errors import ConfigError
from envmon.readings import (
    DIFF_PRESSURE,
    HUMIDITY,
    PARTICLES_0_5UM,
    PARTICLES_5_0UM,
    TEMPERATURE,
)

SAMPLE_VOLUME: Final = "sample_volume"
"""Mapping key of a particle counter's sample volume (contract unit: litres)."""

PER_SAMPLE: Final = "count"
"""Particle unit meaning counts per sample: needs the sample volume to normalise."""

LITRES_PER_FT3: Final = 28.316846592
PA_PER_INH2O: Final = 25.4 * 9.80665  # conventional inch of water: 249.08891 Pa
PA_PER_MMH2O: Final = 9.80665


@dataclass(frozen=True, slots=True)
class Conversion:
    """``contract = (value + offset) * multiply / divide``; ``per_sample`` marks particle counts.

    Multiplying before dividing keeps round values round (212 °F is exactly 100 °C).
    """

    unit: str
    multiply: float = 1.0
    divide: float = 1.0
    offset: float = 0.0
    per_sample: bool = False

    def apply(self, value: float) -> float:
        return (value + self.offset) * self.multiply / self.divide

    @property
    def identity(self) -> bool:
        return (
            self.multiply == 1.0
            and self.divide == 1.0
            and self.offset == 0.0
            and not self.per_sample
        )


_CELSIUS = Conversion("degC")
_TEMPERATURE: Final[Mapping[str, Conversion]] = {
    "degC": _CELSIUS,
    "C": _CELSIUS,
    "°C": _CELSIUS,
    "celsius": _CELSIUS,
    "degF": Conversion("degF", 5.0, 9.0, -32.0),
    "F": Conversion("F", 5.0, 9.0, -32.0),
    "°F": Conversion("°F", 5.0, 9.0, -32.0),
    "fahrenheit": Conversion("fahrenheit", 5.0, 9.0, -32.0),
    "K": Conversion("K", offset=-273.15),
    "kelvin": Conversion("kelvin", offset=-273.15),
}
_HUMIDITY: Final[Mapping[str, Conversion]] = {
    "%RH": Conversion("%RH"),
    "%": Conversion("%"),
    "pct": Conversion("pct"),
    "fraction": Conversion("fraction", 100.0),
}
_PRESSURE: Final[Mapping[str, Conversion]] = {
    "Pa": Conversion("Pa"),
    "hPa": Conversion("hPa", 100.0),
    "mbar": Conversion("mbar", 100.0),
    "kPa": Conversion("kPa", 1000.0),
    "inH2O": Conversion("inH2O", PA_PER_INH2O),
    "mmH2O": Conversion("mmH2O", PA_PER_MMH2O),
}
_PARTICLES: Final[Mapping[str, Conversion]] = {
    "per_m3": Conversion("per_m3"),
    "/m3": Conversion("/m3"),
    "per_ft3": Conversion("per_ft3", 1000.0, LITRES_PER_FT3),
    "/ft3": Conversion("/ft3", 1000.0, LITRES_PER_FT3),
    "per_L": Conversion("per_L", 1000.0),
    "/L": Conversion("/L", 1000.0),
    PER_SAMPLE: Conversion(PER_SAMPLE, per_sample=True),
}
_VOLUME: Final[Mapping[str, Conversion]] = {
    "L": Conversion("L"),
    "l": Conversion("l"),
    "litre": Conversion("litre"),
    "liter": Conversion("liter"),
    "ft3": Conversion("ft3", LITRES_PER_FT3),
    "m3": Conversion("m3", 1000.0),
}

UNITS_BY_KEY: Final[Mapping[str, Mapping[str, Conversion]]] = {
    TEMPERATURE: _TEMPERATURE,
    HUMIDITY: _HUMIDITY,
    DIFF_PRESSURE: _PRESSURE,
    PARTICLES_0_5UM: _PARTICLES,
    PARTICLES_5_0UM: _PARTICLES,
    SAMPLE_VOLUME: _VOLUME,
}
"""Known unit names per mapping key (a parameter id or ``sample_volume``)."""

CONTRACT_UNIT: Final[Mapping[str, str]] = {
    TEMPERATURE: "degC",
    HUMIDITY: "%RH",
    DIFF_PRESSURE: "Pa",
    PARTICLES_0_5UM: "per_m3",
    PARTICLES_5_0UM: "per_m3",
    SAMPLE_VOLUME: "L",
}


AS_DECLARED: Final = Conversion("as declared")
"""A declared parameter's values, taken in the unit of its declaration."""
_DECLARED_ID: Final = re.compile(r"[a-z0-9_]{1,64}")


def is_builtin_key(key: str) -> bool:
    """A built-in parameter or ``sample_volume`` (the others must be declared)."""
    return key in UNITS_BY_KEY


def conversion(key: str, unit: str | None, where: str) -> Conversion:
    """The conversion of ``unit`` for mapping ``key``; ``None`` = the contract unit.

    A key that is not built in is a declared parameter's id, read as declared.
    Raises ``ConfigError`` naming ``where`` (the settings key) for a key that
    cannot be a parameter id, a unit for a declared parameter, or a unit that
    is not one of ``key``'s quantity.
    """
    table = UNITS_BY_KEY.get(key)
    if table is None:
        if not _DECLARED_ID.fullmatch(key):
            raise ConfigError(
                f"{where}: unknown field {key!r}: neither a built-in parameter "
                f"({', '.join(UNITS_BY_KEY)}) nor a parameter id ([a-z0-9_]+)"
            )
        if unit is not None:
            raise ConfigError(
                f"{where}: {key} is not a built-in parameter: its values are taken in the "
                "unit its [[parameters]] entry in the facility file declares (remove unit)"
            )
        return AS_DECLARED
    name = CONTRACT_UNIT[key] if unit is None else unit
    found = table.get(name)
    if found is None:
        raise ConfigError(f"{where}: unknown unit {name!r} for {key} (known: {', '.join(table)})")
    return found


def per_sample_to_per_m3(count: float, sample_volume_l: float) -> float:
    """Counts in one sample of ``sample_volume_l`` litres → counts per m³."""
    return count / (sample_volume_l / 1000.0)
