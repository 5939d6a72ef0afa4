"""Parse one InfluxDB line-protocol line (a sensor's payload), no I/O.

``measurement[,tag=value...] field=value[,field=value...] [timestamp]``
with the escapes of the InfluxDB reference: ``\\,`` ``\\ `` ``\\=`` in names
and tags, ``\\"`` and ``\\\\`` in string field values. Field values are
floats, integers (``1i``), unsigned integers (``1u``), booleans or strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

FieldValue = float | int | bool | str

_TRUE: Final = frozenset({"t", "T", "true", "True", "TRUE"})
_FALSE: Final = frozenset({"f", "F", "false", "False", "FALSE"})


class LineProtocolError(ValueError):
    """The text is not one valid line-protocol line; the message says where."""


@dataclass(frozen=True, slots=True)
class Line:
    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    timestamp: int | None


def parse_line(text: str) -> Line:
    """The single data line of ``text`` (comment and blank lines are skipped)."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise LineProtocolError("no line-protocol line in the payload")
    if len(lines) > 1:
        raise LineProtocolError(f"{len(lines)} lines: send one reading per message")
    return _parse(lines[0].strip())


def _parse(line: str) -> Line:
    measurement, i = _token(line, 0, ", ", "\\, ")
    if not measurement:
        raise LineProtocolError("missing measurement name")
    tags: dict[str, str] = {}
    while i < len(line) and line[i] == ",":
        key, i = _token(line, i + 1, "=", "\\,= ")
        if i >= len(line) or line[i] != "=" or not key:
            raise LineProtocolError(f"tag {key!r}: expected key=value")
        value, i = _token(line, i + 1, ", ", "\\,= ")
        if not value:
            raise LineProtocolError(f"tag {key!r}: empty value")
        tags[key] = value
    if i >= len(line) or line[i] != " ":
        raise LineProtocolError("missing fields after the measurement")
    fields: dict[str, FieldValue] = {}
    i += 1
    while True:
        key, i = _token(line, i, "=", "\\,= ")
        if i >= len(line) or not key:
            raise LineProtocolError(f"field {key!r}: expected key=value")
        fields[key], i = _field_value(line, i + 1, key)
        if i < len(line) and line[i] == ",":
            i += 1
            continue
        break
    timestamp: int | None = None
    rest = line[i:].strip()
    if rest:
        try:
            timestamp = int(rest, 10)
        except ValueError:
            raise LineProtocolError(f"timestamp {rest[:40]!r} is not an integer") from None
    return Line(measurement=measurement, tags=tags, fields=fields, timestamp=timestamp)


def _token(line: str, i: int, stops: str, escapable: str) -> tuple[str, int]:
    """Text from ``i`` up to the first unescaped stop character."""
    out: list[str] = []
    n = len(line)
    while i < n:
        c = line[i]
        if c == "\\" and i + 1 < n and line[i + 1] in escapable:
            out.append(line[i + 1])
            i += 2
            continue
        if c in stops:
            break
        out.append(c)
        i += 1
    return "".join(out), i


def _field_value(line: str, i: int, key: str) -> tuple[FieldValue, int]:
    if i < len(line) and line[i] == '"':
        return _string(line, i + 1, key)
    raw, end = _token(line, i, ", ", "")
    if not raw:
        raise LineProtocolError(f"field {key!r}: empty value")
    return _scalar(raw, key), end


def _string(line: str, i: int, key: str) -> tuple[str, int]:
    out: list[str] = []
    n = len(line)
    while i < n:
        c = line[i]
        if c == "\\" and i + 1 < n and line[i + 1] in '"\\':
            out.append(line[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise LineProtocolError(f"field {key!r}: unterminated string")


def _scalar(raw: str, key: str) -> FieldValue:
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    try:
        if raw[-1] in "iu":
            value = int(raw[:-1], 10)
            if raw[-1] == "u" and value < 0:
                raise ValueError
            return value
        return float(raw)
    except ValueError:
        raise LineProtocolError(f"field {key!r}: {raw[:40]!r} is not a number") from None
