"""Times given on the command line: ISO 8601 with a zone, epoch seconds, ``now``,
``-24h`` or ``+4h``; and durations such as ``8h`` or ``1h30m``."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from envmon.errors import EnvmonError
from envmon.readings import NS_PER_S, datetime_to_ns

_RELATIVE = re.compile(r"^([-+])(\d+(?:\.\d+)?)([smhd])$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time(text: str, now_ns: int, what: str) -> int:
    """UTC nanoseconds; raises ``EnvmonError`` naming the option on nonsense."""
    value = text.strip()
    if value == "now":
        return now_ns
    relative = _RELATIVE.match(value)
    if relative:
        sign = -1 if relative.group(1) == "-" else 1
        offset = float(relative.group(2)) * _UNIT_S[relative.group(3)] * NS_PER_S
        return now_ns + sign * int(offset)
    try:
        return int(Decimal(value) * NS_PER_S)
    except (InvalidOperation, ValueError, OverflowError):
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise EnvmonError(
            f"{what} {text!r}: not a time (use ISO 8601 with a zone such as "
            "2026-11-24T06:00:00Z, epoch seconds, 'now', '-24h' or '+4h')"
        ) from None
    if parsed.tzinfo is None:
        raise EnvmonError(
            f"{what} {text!r}: no time zone; add Z for UTC or an offset such as +01:00"
        )
    return datetime_to_ns(parsed)


def parse_duration(text: str, what: str) -> float:
    """Seconds from ``90s``, ``30m``, ``8h``, ``1d`` or ``1h30m``; raises ``EnvmonError``."""
    value = text.strip()
    parts = _DURATION_PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise EnvmonError(f"{what} {text!r}: not a duration (such as 30m, 8h or 1h30m)")
    return sum(float(n) * _UNIT_S[u] for n, u in parts)
