"""The facility file: rooms, equipment, sensors, parameters and limit overrides, validated.

The file says what is monitored and against what. Built-in Annex 1 numbers
live in ``gmp.py``; this package only holds what the site wrote, checked for
consistency so that a mistake is refused at start with its key named.

- ``model``: the file's tables as pydantic models (types, ranges, required keys);
- ``checks``: what needs the whole file (references between tables);
- ``parameters``: the built-in and declared parameters, units and ranges;
- ``file``: ``Facility`` (a loaded file with lookup tables), ``parse_facility``.
"""

from envmon.facility.file import Facility, load_facility, parameters_of, parse_facility
from envmon.facility.model import (
    Equipment,
    FacilityModel,
    LimitRule,
    ParameterDecl,
    ParameterLimits,
    Room,
    Sensor,
    StateSchedule,
)
from envmon.facility.parameters import BUILTIN_PARAMETERS, ParameterInfo

__all__ = [
    "BUILTIN_PARAMETERS",
    "Equipment",
    "Facility",
    "FacilityModel",
    "LimitRule",
    "ParameterDecl",
    "ParameterInfo",
    "ParameterLimits",
    "Room",
    "Sensor",
    "StateSchedule",
    "load_facility",
    "parameters_of",
    "parse_facility",
]
