"""The parameters a facility measures: the five built-in ones and those it declares."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from envmon.facility.model import ParameterDecl
from envmon.readings import PARAMETERS, RANGE_OF_PARAMETER, RAW_SUFFIX, UNIT_OF_PARAMETER

BUILTIN_NAMES: Final[Mapping[str, str]] = {
    "particles_0_5um": "Particles 0.5 µm",
    "particles_5_0um": "Particles 5.0 µm",
    "temperature": "Temperature",
    "humidity": "Humidity",
    "diff_pressure": "Diff. pressure",
}

RESERVED_IDS: Final = frozenset(
    {"status", "sample_volume", "sample_volume_l", "sensor_fault", "comm_loss", "calibration",
     "time"}
)  # fmt: skip
"""Names envmon uses itself: InfluxDB fields and tags, alarm parameters, InfluxQL's time."""


@dataclass(frozen=True, slots=True)
class ParameterInfo:
    """One parameter: its unit and plausible measuring range (inclusive)."""

    id: str
    name: str
    unit: str
    range: tuple[float, float]
    builtin: bool

    @property
    def label(self) -> str:
        """``Name (unit)`` for tables and chart titles."""
        return f"{self.name} ({self.unit})"


BUILTIN_PARAMETERS: Final[Mapping[str, ParameterInfo]] = {
    p: ParameterInfo(p, BUILTIN_NAMES[p], UNIT_OF_PARAMETER[p], RANGE_OF_PARAMETER[p], True)
    for p in PARAMETERS
}


def parameter_registry(declared: Iterable[ParameterDecl]) -> dict[str, ParameterInfo]:
    """Built-in parameters first (contract order), then the declared ones in file order."""
    out = dict(BUILTIN_PARAMETERS)
    for d in declared:
        out[d.id] = ParameterInfo(d.id, d.label, d.unit, (d.range[0], d.range[1]), False)
    return out


def id_problem(parameter_id: str) -> str | None:
    """Why a declared parameter id cannot be used, or None."""
    builtin = BUILTIN_PARAMETERS.get(parameter_id)
    if builtin is not None:
        lo, hi = builtin.range
        return (
            f"{parameter_id!r} is a built-in parameter ({builtin.unit}, range {lo:g} to "
            f"{hi:g}): measure it without declaring it, or declare another id"
        )
    if parameter_id in RESERVED_IDS:
        return (
            f"{parameter_id!r} is a name envmon uses itself (reserved: "
            + ", ".join(sorted(RESERVED_IDS))
            + ")"
        )
    if parameter_id.endswith(RAW_SUFFIX):
        return f"{parameter_id!r}: ids ending in {RAW_SUFFIX!r} are reserved for unjudged values"
    return None
