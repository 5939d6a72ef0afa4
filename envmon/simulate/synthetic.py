"""Synthetic facility files of N rooms, for load tests (``envmon simulate --rooms N``).

Rooms come in suites of four, a pressure cascade A → B → C → D; each room has
a particle counter, a climate sensor and a pressure sensor. The text is a
function of its arguments only, so the simulator and the envmon under test
can build the same facility independently.
"""

from __future__ import annotations

from pathlib import Path

from envmon.facility import Facility, parse_facility

_GRADES = "ABCD"


def synthetic_room_id(index: int) -> str:
    suite, position = divmod(index, len(_GRADES))
    return f"S{suite + 1:03d}-{_GRADES[position]}"


def synthetic_facility_text(rooms: int, site: str = "site1", interval_s: float = 60.0) -> str:
    """Facility TOML for ``rooms`` rooms (at least one)."""
    if rooms < 1:
        raise ValueError(f"--rooms must be at least 1, not {rooms}")
    lines = [
        f"# Synthetic facility of {rooms} rooms, written by envmon simulate (load tests).",
        f'site = "{site}"',
        "",
    ]
    for i in range(rooms):
        room_id = synthetic_room_id(i)
        grade = _GRADES[i % len(_GRADES)]
        lines += ["[[rooms]]", f'id = "{room_id}"', f'grade = "{grade}"']
        has_reference = grade != "D" and i + 1 < rooms
        if has_reference:
            lines.append(f'reference = "{synthetic_room_id(i + 1)}"')
        if grade == "D":
            # Annex 1 leaves Grade D in operation to the site.
            lines += [
                "[rooms.limits.particles_0_5um.in_operation]",
                "action_high = 3520000",
                "[rooms.limits.particles_5_0um.in_operation]",
                "action_high = 29300",
            ]
        lines += [
            "[rooms.limits.diff_pressure]",
            "alert_low = 12.0" if has_reference else "alert_low = 8.0",
            "action_low = 10.0" if has_reference else "action_low = 5.0",
            "delay_s = 60",
            "",
        ]
    for i in range(rooms):
        room_id = synthetic_room_id(i)
        for prefix, kind in (("PC", "particles"), ("TH", "climate"), ("DP", "pressure")):
            lines += [
                "[[sensors]]",
                f'id = "{prefix}-{room_id}-1"',
                f'room = "{room_id}"',
                f'kind = "{kind}"',
                f"interval_s = {interval_s:g}",
                "",
            ]
    return "\n".join(lines)


def synthetic_facility(rooms: int, site: str = "site1", interval_s: float = 60.0) -> Facility:
    return parse_facility(synthetic_facility_text(rooms, site, interval_s))


def write_facility(
    rooms: int, path: Path, *, site: str = "site1", interval_s: float = 60.0
) -> None:
    """Write the synthetic facility of ``rooms`` rooms to ``path``."""
    path.write_text(synthetic_facility_text(rooms, site, interval_s), encoding="utf-8")
