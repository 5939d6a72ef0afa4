"""Scalar checks shared by the decoders: JSON objects, numbers, status words, times.

Each raises ``DecodeError(reason, detail)``; no I/O.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final

import orjson

from envmon.readings import ENVMON_STATUSES, NS_PER_S, STATUS_OK

MAX_DEPTH: Final = 32
NS_PER_UNIT: Final[Mapping[str, int]] = {"s": NS_PER_S, "ms": 1_000_000, "us": 1_000, "ns": 1}
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_ISO: Final = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d\d):?(\d\d))?"
)
_STATUS_WORD: Final = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
# Below this many steps neighbouring floats are less than a step apart (53-bit significand).
_EXACT_STEPS: Final = 2**52


class DecodeError(Exception):
    """A payload that cannot become a reading: ``reason`` code and ``detail`` sentence."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def load_object(payload: bytes) -> dict[str, Any]:
    """The payload as a JSON object; ``bad_json`` / ``bad_shape`` otherwise."""
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        obj = _load_non_standard(payload, exc)
    if not isinstance(obj, dict):
        raise DecodeError("bad_shape", f"payload is {describe(obj)}, expected a JSON object")
    # Cheap C-speed screen first; the exact depth only for payloads that may nest deeply.
    if payload.count(b"{") + payload.count(b"[") > MAX_DEPTH and _depth(obj) > MAX_DEPTH:
        raise DecodeError("bad_shape", f"payload nests deeper than {MAX_DEPTH} levels")
    return obj


def _load_non_standard(payload: bytes, exc: orjson.JSONDecodeError) -> Any:
    """Senders that write NaN, Infinity or 1e999 get ``non_finite``, not ``bad_json``.

    Only on the error path: Python's json accepts those tokens (orjson does
    not), so the value's own check can name the field.
    """
    try:
        return json.loads(payload)
    except (ValueError, RecursionError):
        raise DecodeError("bad_json", f"payload is not valid JSON: {exc}") from None


def _depth(obj: Any) -> int:
    """Nesting depth of a parsed JSON value, without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


def parse_status(value: Any, name: str) -> str:
    """``ok`` when absent; else a short word such as ``flow_fault``.

    A word only envmon stamps (``out_of_service``, ``calibration_overdue``)
    coming from a sensor becomes the fault word ``sensor_<word>``: a sensor
    cannot sign itself out of service, and what it says is kept.
    """
    if value is None or value == STATUS_OK:
        return STATUS_OK
    if not isinstance(value, str) or not _STATUS_WORD.fullmatch(value):
        raise DecodeError(
            "bad_status", f"{name} is {describe(value)}: expected 'ok' or a fault word"
        )
    return f"sensor_{value}" if value in ENVMON_STATUSES else value


def parse_timestamp(value: Any, precision_ns: int, name: str) -> int:
    """ISO 8601 with a zone (exact to the ns) or an epoch number (floats to the µs).

    A boolean is refused by name: JSON ``true`` is not a time, although Python
    counts ``bool`` as an ``int``.
    """
    if isinstance(value, float):  # the usual epoch seconds first
        if not math.isfinite(value):
            raise DecodeError("bad_timestamp", f"{name} is not finite")
        return _float_epoch_ns(value, precision_ns)
    if isinstance(value, str):
        return parse_iso_ns(value, name)
    if isinstance(value, bool):
        raise DecodeError(
            "bad_timestamp", f"{name} is {describe(value)}: expected ISO 8601 or epoch seconds"
        )
    if isinstance(value, int):
        return value * precision_ns
    raise DecodeError(
        "bad_timestamp", f"{name} is {describe(value)}: expected ISO 8601 or epoch seconds"
    )


def _float_epoch_ns(value: float, precision_ns: int) -> int:
    """``value`` units in ns, rounded half-even to the whole µs (to the whole ns when
    the unit is finer than a µs).

    Computed from the float's shortest decimal form, which is what the sender
    wrote: ``value * 1e6`` in binary would turn .0000014 s into 2 µs.
    """
    step_ns = 1000 if precision_ns >= 1000 else 1
    steps_per_unit = precision_ns // step_ns
    steps = whole_steps(value, steps_per_unit)
    if steps is None:
        steps = decimal_steps(value, steps_per_unit)
    return steps * step_ns


def decimal_steps(value: float, steps_per_unit: int) -> int:
    """``value * steps_per_unit`` from the float's shortest decimal form, rounded half-even."""
    steps = Decimal(repr(value)) * steps_per_unit
    return int(steps.to_integral_value(rounding=ROUND_HALF_EVEN))


def whole_steps(value: float, steps_per_unit: int) -> int | None:
    """``decimal_steps`` without ``Decimal``, for a value written with no more decimals
    than a step has (epoch seconds with at most 6, as most senders write them); None
    when that cannot be told, and the caller takes ``decimal_steps``.

    The candidate is ``value * steps_per_unit`` rounded; it is the answer when it
    divides back to ``value`` (int / int is correctly rounded): below
    ``_EXACT_STEPS`` steps neighbouring floats are less than a step apart, so no
    other whole number of steps reads back as this float, and the float's
    shortest decimal form, having no more decimals, is that number.
    """
    scaled = value * steps_per_unit
    if not abs(scaled) < _EXACT_STEPS:  # also inf, for a product that overflows
        return None
    steps = round(scaled)
    return steps if steps / steps_per_unit == value else None


def parse_iso_ns(text: str, name: str = "ts") -> int:
    """``2026-11-24T10:00:00.123Z`` → ns since the epoch; a zone is required."""
    m = _ISO.fullmatch(text)
    if m is None:
        raise DecodeError(
            "bad_timestamp",
            f"{name} {text[:40]!r} is not ISO 8601 (like 2026-11-24T10:00:00Z)",
        )
    year, month, day, hour, minute, second, frac, zulu, sign, off_h, off_m = m.groups()
    if zulu is None and sign is None:
        raise DecodeError(
            "bad_timestamp",
            f"{name} {text!r} has no time zone: add Z (UTC) or an offset such as +01:00",
        )
    try:
        days = date(int(year), int(month), int(day)).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        raise DecodeError("bad_timestamp", f"{name} {text!r} is not a calendar date") from None
    h, mi, s = int(hour), int(minute), int(second)
    if h > 23 or mi > 59 or s > 59:
        raise DecodeError("bad_timestamp", f"{name} {text!r} is not a valid time of day")
    seconds = days * 86_400 + h * 3600 + mi * 60 + s
    if sign is not None:
        offset = int(off_h) * 3600 + int(off_m) * 60
        seconds -= offset if sign == "+" else -offset
    ns = int(frac.ljust(9, "0")) if frac else 0
    return seconds * NS_PER_S + ns


def number(value: Any, name: str) -> float:
    """A finite JSON/line-protocol number as float; booleans and strings are refused.

    A boolean is refused by name: JSON ``true`` is not a measurement, although
    Python counts ``bool`` as an ``int``.
    """
    if isinstance(value, bool):
        raise DecodeError("bad_value", f"{name} is {describe(value)}, expected a number")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DecodeError("non_finite", f"{name} is {value}: expected a finite number")
        return value
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            raise DecodeError("bad_value", f"{name} is too large a number") from None
    raise DecodeError("bad_value", f"{name} is {describe(value)}, expected a number")


def describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, str):
        return f"a string {value[:32]!r}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return repr(value)[:32]
