"""The report's ``transients`` section (design.md section 10), pure.

Per room (and equipment), parameter, level and side: how many runs beyond a
limit ended without meeting its delay or persistence rule (journaled by the
alarm worker, ``alarms/rules.py``), the longest of them and the most extreme
value any reached (the maximum beyond a high limit, the minimum beyond a low
one). A transient belongs to the window it began in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from envmon.alarms.events import Level, Transient
from envmon.readings import NS_PER_S

_LEVEL_ORDER = {Level.ALERT: 0, Level.ACTION: 1}


@dataclass(frozen=True, slots=True)
class TransientSummary:
    room: str
    equipment: str | None
    parameter: str
    level: Level
    side: str
    """``high`` or ``low``: a level's two limits are summed apart (their peaks differ)."""
    count: int
    longest_s: float
    peak: float
    limit: float
    """The limit of the longest one (the limits in force may change in a window)."""


def summarize_transients(
    transients: Iterable[Transient], from_ns: int, to_ns: int
) -> tuple[TransientSummary, ...]:
    """One summary per (room, equipment, parameter, level, side), of the transients that
    began in [from_ns, to_ns); ordered by room, equipment, parameter, level, side."""
    groups: dict[tuple[str, str, str, Level, str], list[Transient]] = {}
    for t in transients:
        if from_ns <= t.start_ns < to_ns:
            key = (t.room, t.equipment or "", t.parameter, t.level, t.side)
            groups.setdefault(key, []).append(t)
    out = []
    for key in sorted(groups, key=lambda k: (k[0], k[1], k[2], _LEVEL_ORDER.get(k[3], 9), k[4])):
        members = groups[key]
        high = key[4] == "high"
        longest = max(members, key=lambda t: (t.end_ns - t.start_ns, -t.start_ns))
        peaks = [t.peak for t in members]
        out.append(
            TransientSummary(
                room=key[0],
                equipment=key[1] or None,
                parameter=key[2],
                level=key[3],
                side=key[4],
                count=len(members),
                longest_s=(longest.end_ns - longest.start_ns) / NS_PER_S,
                peak=max(peaks) if high else min(peaks),
                limit=longest.limit,
            )
        )
    return tuple(out)


def transient_json(s: TransientSummary, rounded: Any) -> dict[str, Any]:
    """The contract object; ``rounded`` is the report's number rounding."""
    return {
        "room": s.room,
        "equipment": s.equipment,
        "parameter": s.parameter,
        "level": s.level.value,
        "side": s.side,
        "count": s.count,
        "longest_s": rounded(s.longest_s),
        "peak": rounded(s.peak),
        "limit": rounded(s.limit),
    }


TRANSIENT_HEADER = ["Room", "Equipment", "Parameter", "Level", "Side", "Count", "Longest",
                    "Peak", "Limit"]  # fmt: skip
