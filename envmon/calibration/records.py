"""What a signed calibration record is made of, and when one is refused. Pure.

``envmon calibration record SENSOR --due DATE --certificate REF`` signs the
act ``calibration`` on the sensor with the params ``{"due": "YYYY-MM-DD",
"certificate": REF}``; the signature covers act, sensor and params, so it
binds the sensor, the due date and the certificate. The command checks the
record before asking for the password and the service checks it again when
it applies the request (the facility may have been reloaded, a day may have
passed): a sensor the facility lacks, a due date before today (UTC) or an
empty certificate is refused with one line.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, timedelta
from typing import Any, Final

from envmon.calibration.state import NS_PER_DAY, CalibrationRecord
from envmon.errors import EnvmonError

MAX_CERTIFICATE_LENGTH: Final = 200
_EPOCH: Final = date(1970, 1, 1)


def parse_due(text: str, what: str = "--due") -> date:
    """A due date written ``YYYY-MM-DD``; ``EnvmonError`` naming ``what`` otherwise."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise EnvmonError(f"{what} {text!r}: not a date (write it YYYY-MM-DD)") from None


def utc_day(at_ns: int) -> date:
    """The calendar day (UTC) of ``at_ns``."""
    return _EPOCH + timedelta(days=at_ns // NS_PER_DAY)


def record_problem(
    sensor: str, due: date, certificate: str, sensors: Collection[str], now_ns: int
) -> str | None:
    """Why this record may not be made at ``now_ns``, or None. ``sensors``: the facility's."""
    if sensor not in sensors:
        return f"no sensor {sensor!r} in the facility"
    today = utc_day(now_ns)
    if due < today:
        return (
            f"due date {due.isoformat()} is in the past (today is {today.isoformat()} UTC): "
            "a calibration record gives the next due date"
        )
    cert = certificate.strip()
    if not cert:
        return "the certificate reference is empty (--certificate names the calibration record)"
    if len(cert) > MAX_CERTIFICATE_LENGTH:
        return f"the certificate reference is longer than {MAX_CERTIFICATE_LENGTH} characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in cert):
        return "the certificate reference may not contain control characters"
    return None


def record_params(due: date, certificate: str) -> dict[str, Any]:
    """The params a calibration request carries (and its signature covers)."""
    return {"due": due.isoformat(), "certificate": certificate.strip()}


def from_params(
    sensor: str, params: Mapping[str, Any], signed_ns: int, signed_by: str = ""
) -> CalibrationRecord:
    """The record a calibration request's params make; ``EnvmonError`` if malformed."""
    due, certificate = params.get("due"), params.get("certificate")
    if not isinstance(due, str) or not isinstance(certificate, str):
        raise EnvmonError(f"calibration of {sensor}: the request lacks its due date or certificate")
    return CalibrationRecord(
        sensor=sensor,
        due=parse_due(due, "due date"),
        certificate=certificate,
        signed_ns=signed_ns,
        signed_by=signed_by,
    )
