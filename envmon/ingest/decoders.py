"""Payload decoders: bytes of one MQTT message → values in contract units. No I/O.

Three payload forms (design.md sections 3 and 11):

- the contract JSON of each kind (``ts``, ``status``, and ``counts`` +
  ``sample_volume_l`` or ``per_m3``; ``temperature_c``/``humidity_pct``;
  ``diff_pressure_pa``; for equipment ``values``: parameter id → value);
- JSON with configured paths and units per parameter (like Telegraf json_v2);
- one InfluxDB line-protocol line, fields mapped to parameters.

Every decoder raises ``DecodeError(reason, detail)``: a short stable reason
code and a sentence naming the field. JSON ``null`` counts as absent. Values
must be finite numbers. Given the sensor's measuring ranges (the ingestor
resolves them per sensor), a value beyond its range makes the reading
``out_of_range`` (unless the sensor sent a fault word): a broken transmitter's
reading is stored and flagged, not a payload to reject.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from envmon.ingest.lineproto import LineProtocolError, parse_line
from envmon.ingest.units import AS_DECLARED, SAMPLE_VOLUME, Conversion, conversion
from envmon.ingest.values import (
    NS_PER_UNIT,
    DecodeError,
    describe,
    load_object,
    number,
    parse_status,
    parse_timestamp,
)
from envmon.readings import (
    DIFF_PRESSURE,
    HUMIDITY,
    KIND_OF_PARAMETER,
    NS_PER_S,
    PARAMETERS_BY_KIND,
    PARTICLES_0_5UM,
    PARTICLES_5_0UM,
    STATUS_OK,
    STATUS_OUT_OF_RANGE,
    TEMPERATURE,
    Kind,
)

Ranges = Mapping[str, tuple[float, float]]
"""Parameter → (low, high) measuring range, inclusive."""

_PARTICLE_SIZES: Final = (("0.5", PARTICLES_0_5UM), ("5.0", PARTICLES_5_0UM))
_KIND_NAMES: Final = frozenset(k.value for k in Kind)
_LINE_NOT_VALUES: Final = frozenset({"status", "sample_volume_l"})


class Decoded(NamedTuple):
    """Values in contract units; ``ts_ns`` is ``None`` when the payload had no time."""

    values: dict[str, float]
    ts_ns: int | None
    status: str = STATUS_OK
    sample_volume_l: float | None = None


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A resolved field mapping: a path (JSON levels or one line-protocol key) and unit."""

    key: str
    path: tuple[str | int, ...]
    name: str
    unit: Conversion


@dataclass(frozen=True, slots=True)
class PayloadSpec:
    """How one topic rule's payloads are read; the default is the contract JSON."""

    format: str = "json"
    timestamp: tuple[str | int, ...] = ("ts",)
    timestamp_name: str = "ts"
    precision_ns: int = NS_PER_S
    status: tuple[str | int, ...] = ("status",)
    status_name: str = "status"
    fields: Mapping[Kind, tuple[FieldSpec, ...]] = field(default_factory=dict)
    sample_volume: FieldSpec | None = None


CONTRACT_SPEC: Final = PayloadSpec()


def build_spec(
    format: str,
    timestamp: str,
    precision: str,
    status: str,
    fields: Mapping[str, tuple[str, str | None]],
) -> PayloadSpec:
    """Resolve a topic rule's paths and units (``fields``: key → (path, unit)).

    A built-in parameter's mapping serves sensors of its kind and of kind
    ``equipment``; a declared parameter's only the latter.
    """
    by_kind: dict[Kind, list[FieldSpec]] = {}
    volume: FieldSpec | None = None
    for key, (path, unit) in fields.items():
        spec = FieldSpec(key, _path(path, format), path, conversion(key, unit, f"fields.{key}"))
        if key == SAMPLE_VOLUME:
            volume = spec
            continue
        kind = KIND_OF_PARAMETER.get(key)
        if kind is not None:
            by_kind.setdefault(kind, []).append(spec)
        by_kind.setdefault(Kind.EQUIPMENT, []).append(spec)
    if format == "influx" and volume is None:
        volume = FieldSpec(
            SAMPLE_VOLUME,
            ("sample_volume_l",),
            "sample_volume_l",
            conversion(SAMPLE_VOLUME, None, SAMPLE_VOLUME),
        )
    return PayloadSpec(
        format=format,
        timestamp=_path(timestamp, format),
        timestamp_name=timestamp,
        precision_ns=NS_PER_UNIT[precision],
        status=_path(status, format),
        status_name=status,
        fields={k: tuple(v) for k, v in by_kind.items()},
        sample_volume=volume,
    )


def _path(text: str, format: str) -> tuple[str | int, ...]:
    """``a.b\\.c.0`` → ("a", "b.c", 0); a line-protocol key is one level."""
    if format != "json":
        return (text,)
    levels: list[str | int] = []
    for raw in re.split(r"(?<!\\)\.", text):
        level = raw.replace("\\.", ".")
        levels.append(int(level) if level.isdigit() and raw == level else level)
    return tuple(levels)


def decode(
    payload: bytes, kind: Kind, spec: PayloadSpec = CONTRACT_SPEC, ranges: Ranges | None = None
) -> Decoded:
    """Decode one payload of a sensor of ``kind``; raises ``DecodeError``.

    With ``ranges``, an ``ok`` reading with a value beyond its range comes out
    ``out_of_range`` (a parameter without a range is not checked).
    """
    if spec.format == "influx":
        return _decode_line(payload, kind, spec, ranges)
    obj = load_object(payload)
    if spec is CONTRACT_SPEC:  # its keys are top-level: looked up directly
        raw_status, raw_ts = obj.get("status"), obj.get("ts")
    else:
        raw_status, raw_ts = _lookup(obj, spec.status), _lookup(obj, spec.timestamp)
    status = parse_status(raw_status, spec.status_name)
    ts_ns = (
        None if raw_ts is None else parse_timestamp(raw_ts, spec.precision_ns, spec.timestamp_name)
    )
    mapped = spec.fields.get(kind)
    if mapped:
        values, volume = _mapped(obj, mapped, spec.sample_volume, _lookup)
    else:
        values, volume = _CONTRACT_VALUES[kind](obj)
    return _finish(values, ts_ns, status, volume, ranges)


def _lookup(obj: Any, path: tuple[str | int, ...]) -> Any:
    for level in path:
        if isinstance(obj, dict):
            obj = obj.get(str(level))
        elif isinstance(obj, list) and isinstance(level, int):
            obj = obj[level] if level < len(obj) else None
        else:
            return None
        if obj is None:
            return None
    return obj


def _contract_particles(obj: Mapping[str, Any]) -> tuple[dict[str, float], float | None]:
    counts = obj.get("counts")
    per_m3 = obj.get("per_m3")
    values: dict[str, float] = {}
    if counts is not None and per_m3 is not None:
        raise DecodeError("bad_shape", "payload has both counts and per_m3: send one")
    if counts is not None:
        if not isinstance(counts, dict):
            raise DecodeError("bad_shape", f"counts is {describe(counts)}, expected an object")
        raw_volume = obj.get("sample_volume_l")
        if raw_volume is None:
            raise DecodeError(
                "bad_value", "sample_volume_l is missing: counts per sample need the volume"
            )
        volume = _sample_volume(number(raw_volume, "sample_volume_l"), "sample_volume_l")
        for size, parameter in _PARTICLE_SIZES:
            raw = counts.get(size)
            if raw is not None:
                values[parameter] = number(raw, f"counts.{size}") / (volume / 1000.0)
        return values, volume
    if per_m3 is not None:
        if not isinstance(per_m3, dict):
            raise DecodeError("bad_shape", f"per_m3 is {describe(per_m3)}, expected an object")
        for size, parameter in _PARTICLE_SIZES:
            raw = per_m3.get(size)
            if raw is not None:
                values[parameter] = number(raw, f"per_m3.{size}")
    raw_volume = obj.get("sample_volume_l")
    if raw_volume is None:
        return values, None
    return values, _sample_volume(number(raw_volume, "sample_volume_l"), "sample_volume_l")


def _contract_simple(*pairs: tuple[str, str]) -> Callable[[Mapping[str, Any]], Any]:
    def decode_values(obj: Mapping[str, Any]) -> tuple[dict[str, float], float | None]:
        values: dict[str, float] = {}
        for key, parameter in pairs:
            raw = obj.get(key)
            if raw is not None:
                values[parameter] = number(raw, key)
        return values, None

    return decode_values


def _contract_equipment(obj: Mapping[str, Any]) -> tuple[dict[str, float], float | None]:
    """``values``: parameter id → value, in the parameters' contract or declared units."""
    raw = obj.get("values")
    if raw is None:
        return {}, None
    if not isinstance(raw, dict):
        raise DecodeError("bad_shape", f"values is {describe(raw)}, expected an object")
    values: dict[str, float] = {}
    for key, value in raw.items():
        if value is not None:
            values[key] = number(value, f"values.{key}")
    return values, None


_CONTRACT_VALUES: Final[Mapping[Kind, Callable[[Mapping[str, Any]], Any]]] = {
    Kind.PARTICLES: _contract_particles,
    Kind.CLIMATE: _contract_simple(("temperature_c", TEMPERATURE), ("humidity_pct", HUMIDITY)),
    Kind.PRESSURE: _contract_simple(("diff_pressure_pa", DIFF_PRESSURE)),
    Kind.EQUIPMENT: _contract_equipment,
}


def _mapped(
    source: Any,
    specs: tuple[FieldSpec, ...],
    volume_spec: FieldSpec | None,
    lookup: Callable[[Any, tuple[str | int, ...]], Any],
) -> tuple[dict[str, float], float | None]:
    volume: float | None = None
    if volume_spec is not None:
        raw_volume = lookup(source, volume_spec.path)
        if raw_volume is not None:
            litres = volume_spec.unit.apply(number(raw_volume, volume_spec.name))
            volume = _sample_volume(litres, volume_spec.name)
    values: dict[str, float] = {}
    for spec in specs:
        raw = lookup(source, spec.path)
        if raw is None:
            continue
        value = spec.unit.apply(number(raw, spec.name))
        if spec.unit.per_sample:
            if volume is None:
                name = volume_spec.name if volume_spec else SAMPLE_VOLUME
                raise DecodeError(
                    "bad_value", f"{name} is missing: {spec.name} is a count per sample"
                )
            value = value / (volume / 1000.0)
        values[spec.key] = value
    return values, volume


def _sample_volume(litres: float, name: str) -> float:
    if not litres > 0 or not math.isfinite(litres):
        raise DecodeError("bad_value", f"{name} is {litres:g}: a sample volume must be > 0")
    return litres


def _finish(
    values: dict[str, float],
    ts_ns: int | None,
    status: str,
    volume: float | None,
    ranges: Ranges | None,
) -> Decoded:
    beyond = False
    for parameter, value in values.items():
        if not math.isfinite(value):
            raise DecodeError("non_finite", f"{parameter} converts to {value}: not finite")
        bounds = ranges.get(parameter) if ranges is not None else None
        if bounds is not None:
            low, high = bounds
            beyond = beyond or not low <= value <= high
    if not values and status == STATUS_OK:
        raise DecodeError("no_values", "payload carries no value of this sensor's kind")
    if beyond and status == STATUS_OK:
        status = STATUS_OUT_OF_RANGE
    return Decoded(values=values, ts_ns=ts_ns, status=status, sample_volume_l=volume)


def _field_lookup(fields: Mapping[str, Any], path: tuple[str | int, ...]) -> Any:
    return fields.get(str(path[0]))


def _decode_line(payload: bytes, kind: Kind, spec: PayloadSpec, ranges: Ranges | None) -> Decoded:
    try:
        text = payload.decode("utf-8")
        line = parse_line(text)
    except UnicodeDecodeError:
        raise DecodeError("bad_line_protocol", "payload is not UTF-8 text") from None
    except LineProtocolError as exc:
        raise DecodeError("bad_line_protocol", str(exc)) from None
    if line.measurement in _KIND_NAMES and line.measurement != kind.value:
        raise DecodeError(
            "kind_mismatch",
            f"measurement {line.measurement!r} is not this {kind.value} sensor's kind",
        )
    status = parse_status(line.fields.get(spec.status_name), spec.status_name)
    mapped = spec.fields.get(kind) or _identity_fields(kind, line.fields, spec.status_name)
    values, volume = _mapped(line.fields, mapped, spec.sample_volume, _field_lookup)
    ts_ns = None if line.timestamp is None else line.timestamp * spec.precision_ns
    return _finish(values, ts_ns, status, volume, ranges)


def _identity_fields(
    kind: Kind, fields: Mapping[str, Any], status_name: str
) -> tuple[FieldSpec, ...]:
    """Line-protocol fields named like the contract schema (design.md sections 5 and 11);
    for equipment every field but the status and sample volume, by parameter id."""
    if kind is not Kind.EQUIPMENT:
        return _IDENTITY[kind]
    return tuple(
        FieldSpec(key, (key,), key, AS_DECLARED)
        for key in fields
        if key not in _LINE_NOT_VALUES and key != status_name
    )


_IDENTITY: Final[Mapping[Kind, tuple[FieldSpec, ...]]] = {
    kind: tuple(FieldSpec(p, (p,), p, conversion(p, None, p)) for p in params)
    for kind, params in PARAMETERS_BY_KIND.items()
}
