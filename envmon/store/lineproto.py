"""InfluxDB line protocol: the contract's schema (design.md section 5), pure.

One function per measurement, on top of ``line``. Escaping follows the line
protocol reference: measurement (comma, space), tag keys and values and field
keys (comma, equals, space), string field values (backslash, double quote).
What escaping cannot make safe is refused with ``ValueError``, so that a
hostile name can never produce a second line or a wrong series:

- control characters (a newline would start a new point) anywhere;
- empty names (InfluxDB refuses empty tag values and keys);
- a backslash at the end of a name or before a comma, equals sign or space
  (the parser would read it as an escape of the delimiter).

Floats are always written as floats (``repr``: exact, shortest round-trip),
never as integers: InfluxDB fixes a field's type per shard, so ``1413i``
once would refuse ``1413.5`` later. Non-finite floats are refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Final

from envmon.alarms.events import AlarmEvent
from envmon.readings import RAW_SUFFIX, STATUS_OK, Reading, RoomStateChange, is_judged

FieldValue = float | int | str | bool

ROOM_STATE: Final = "room_state"
ALARM: Final = "alarm"
ENVMON_STATS: Final = "envmon_stats"
SAMPLE_VOLUME_L: Final = "sample_volume_l"
STATUS: Final = "status"

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
# A backslash is literal in line protocol except before a delimiter; one at the
# end, or before a delimiter that escaping adds a backslash to, is ambiguous.
_AMBIGUOUS_BACKSLASH: Final = re.compile(r"\\($|[,= ])")
_MEASUREMENT_ESCAPES: Final = str.maketrans({",": r"\,", " ": r"\ "})
_KEY_ESCAPES: Final = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_STRING_ESCAPES: Final = str.maketrans({"\\": "\\\\", '"': '\\"'})


def _check_name(what: str, name: str) -> None:
    if not name:
        raise ValueError(f"line protocol: empty {what}")
    if _CONTROL.search(name):
        raise ValueError(f"line protocol: control character in {what} {name!r}")
    if _AMBIGUOUS_BACKSLASH.search(name):
        raise ValueError(f"line protocol: ambiguous backslash in {what} {name!r}")


@lru_cache(maxsize=4096)
def escape_measurement(name: str) -> str:
    """The measurement name, escaped; ``ValueError`` if it cannot be made safe."""
    _check_name("measurement", name)
    return name.translate(_MEASUREMENT_ESCAPES)


@lru_cache(maxsize=65536)
def escape_key(name: str, what: str = "tag or field key") -> str:
    """A tag key, tag value or field key, escaped; ``ValueError`` if unsafe."""
    _check_name(what, name)
    return name.translate(_KEY_ESCAPES)


def escape_string_field(value: str) -> str:
    """A string field value, quoted and escaped; ``ValueError`` on control characters."""
    if _CONTROL.search(value):
        raise ValueError(f"line protocol: control character in string field {value!r}")
    return '"' + value.translate(_STRING_ESCAPES) + '"'


def format_float(value: float) -> str:
    """Exact and always a float to InfluxDB (``1413.0``, ``1e+20``); non-finite refused."""
    if not math.isfinite(value):
        raise ValueError(f"line protocol: non-finite float {value!r}")
    return repr(float(value))


def format_field_value(value: FieldValue) -> str:
    """bool → ``true``/``false``, int → ``42i``, float → exact float, str → quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, str):
        return escape_string_field(value)
    raise TypeError(f"line protocol: unsupported field type {type(value).__name__}")


def tag_set(measurement: str, tags: Mapping[str, str]) -> str:
    """``measurement,k=v,...`` with tags sorted by key (InfluxDB's own order)."""
    parts = [escape_measurement(measurement)]
    for key in sorted(tags):
        parts.append(f"{escape_key(key, 'tag key')}={escape_key(tags[key], 'tag value')}")
    return ",".join(parts)


def line(
    measurement: str, tags: Mapping[str, str], fields: Mapping[str, FieldValue], ts_ns: int
) -> str:
    """One point, without a trailing newline. At least one field is required."""
    if not fields:
        raise ValueError(f"line protocol: a {measurement} point needs at least one field")
    field_set = ",".join(
        f"{escape_key(k, 'field key')}={format_field_value(v)}" for k, v in fields.items()
    )
    return f"{tag_set(measurement, tags)} {field_set} {_timestamp(ts_ns)}"


def _timestamp(ts_ns: int) -> int:
    if isinstance(ts_ns, bool) or not isinstance(ts_ns, int):
        raise TypeError(f"line protocol: timestamp must be int nanoseconds, not {ts_ns!r}")
    return ts_ns


@lru_cache(maxsize=65536)
def _reading_series(
    kind: str, site: str, room: str, grade: str, sensor: str, equipment: str | None
) -> str:
    # Cached: a facility has a fixed set of sensors, so each series is escaped once.
    tags = {"site": site, "room": room, "grade": grade, "sensor": sensor}
    if equipment is not None:
        tags["equipment"] = equipment
    return tag_set(kind, tags) + " "


@lru_cache(maxsize=256)
def _field_prefix(key: str) -> str:
    """``key=``, escaped: readings carry a handful of parameter ids."""
    return escape_key(key, "field key") + "="


@lru_cache(maxsize=256)
def _raw_field_prefix(key: str) -> str:
    """``key_raw=``, escaped: where an unjudged reading's value goes."""
    return escape_key(key + RAW_SUFFIX, "field key") + "="


def reading_line(r: Reading) -> str:
    """A reading as its contract point: measurement = kind, tags site/room/grade/sensor
    (and ``equipment`` for a sensor on equipment, design.md section 11).

    Fields are the values (as floats), ``sample_volume_l`` for particles, and a
    string ``status`` whenever it is not ``ok``, so that a faulted reading
    without values is still stored. A reading that was not judged (a fault
    word, ``out_of_range``, ``out_of_service``) keeps its values under
    ``<parameter>_raw``: the parameter fields, which Grafana draws and reports
    aggregate, hold judged values only (``calibration_overdue`` ones included).
    """
    series = _reading_series(r.kind, r.site, r.room, r.grade, r.sensor, r.equipment)
    prefix_of = _field_prefix if is_judged(r.status) else _raw_field_prefix
    fields = [prefix_of(key) + format_float(value) for key, value in r.values.items()]
    if r.sample_volume_l is not None:
        fields.append(f"{SAMPLE_VOLUME_L}={format_float(r.sample_volume_l)}")
    if r.status != STATUS_OK:
        fields.append(f"{STATUS}={escape_string_field(r.status)}")
    if not fields:
        raise ValueError(f"line protocol: reading from {r.sensor} has no values and status ok")
    return f"{series}{','.join(fields)} {_timestamp(r.ts_ns)}"


def room_state_line(c: RoomStateChange) -> str:
    """``room_state,room=…,site=… state="at_rest" <ts>``."""
    return line(ROOM_STATE, {"site": c.site, "room": c.room}, {"state": c.state.value}, c.ts_ns)


def alarm_line(e: AlarmEvent) -> str:
    """An alarm transition: tags site/room/parameter/level; None fields omitted."""
    a = e.alarm
    fields: dict[str, FieldValue] = {"state": a.state.value}
    if a.value is not None:
        fields["value"] = float(a.value)
    if a.limit is not None:
        fields["limit"] = float(a.limit)
    fields["alarm_id"] = a.id
    if a.rule is not None:
        fields["rule"] = a.rule
    tags = {"site": a.site, "room": a.room, "parameter": a.parameter, "level": a.level.value}
    if a.equipment is not None:
        tags["equipment"] = a.equipment
    return line(ALARM, tags, fields, e.at_ns)


def stats_line(site: str, fields: Mapping[str, FieldValue], ts_ns: int) -> str:
    """envmon's own counters, measurement ``envmon_stats``, tag site."""
    return line(ENVMON_STATS, {"site": site}, fields, ts_ns)


def limits_line(
    site: str,
    room: str,
    parameter: str,
    room_state: str,
    levels: Mapping[str, float | None],
    ts_ns: int,
    equipment: str | None = None,
) -> str:
    """The limits in force for a room (or equipment) and parameter (measurement ``limits``).

    ``levels`` maps alert_high, action_high, alert_low, action_low to values;
    unset levels are left out, so Grafana draws only the lines that exist.
    Equipment limits carry an ``equipment`` tag.
    """
    point = limits_point(site, room, parameter, room_state, levels, equipment)
    return f"{point} {_timestamp(ts_ns)}"


def limits_point(
    site: str,
    room: str,
    parameter: str,
    room_state: str,
    levels: Mapping[str, float | None],
    equipment: str | None = None,
) -> str:
    """``limits_line`` without its timestamp (the same for every snapshot)."""
    fields: dict[str, FieldValue] = {k: float(v) for k, v in levels.items() if v is not None}
    fields["state"] = room_state
    if not fields:
        raise ValueError("line protocol: a limits point needs at least one field")
    field_set = ",".join(
        f"{escape_key(k, 'field key')}={format_field_value(v)}" for k, v in fields.items()
    )
    tags = {"site": site, "room": room, "parameter": parameter}
    if equipment is not None:
        tags["equipment"] = equipment
    return f"{tag_set('limits', tags)} {field_set}"
