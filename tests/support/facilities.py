"""A small facility for tests of the running pipeline, and payloads for it."""

from __future__ import annotations

import json

from envmon.facility import Facility, parse_facility

SMALL_FACILITY = """
site = "site1"

[[rooms]]
id = "FILL-A"
grade = "A"

[[rooms]]
id = "PREP-C"
grade = "C"

[rooms.limits.diff_pressure]
alert_low = 12.0
action_low = 10.0

[[sensors]]
id = "PC1"
room = "FILL-A"
kind = "particles"
interval_s = 1
stale_after_s = 5

[[sensors]]
id = "DP1"
room = "PREP-C"
kind = "pressure"
interval_s = 1
stale_after_s = 5
"""


def small_facility() -> Facility:
    return parse_facility(SMALL_FACILITY)


def pressure(ts_s: float, pa: float) -> tuple[str, bytes]:
    """A contract pressure payload of DP1 (PREP-C) at epoch seconds ``ts_s``."""
    return "fac/site1/PREP-C/pressure/DP1", json.dumps(
        {"ts": ts_s, "diff_pressure_pa": pa}
    ).encode()


def particles(ts_s: float, per_m3_0_5: float) -> tuple[str, bytes]:
    """A contract particle payload of PC1 (FILL-A, Grade A) already per m³."""
    body = {"ts": ts_s, "per_m3": {"0.5": per_m3_0_5, "5.0": 0}}
    return "fac/site1/FILL-A/particles/PC1", json.dumps(body).encode()
