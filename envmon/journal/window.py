"""What the journal holds about a time window, for the batch record (``report``).

Read-only queries beside ``Journal``'s own: the alarms that may overlap a
window, the shelving entries of given alarms, every audit entry of a window,
and the alarm ids of rooms outside a report (to leave their entries out of
its audit extract).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from envmon.alarms.events import Alarm, Transition
from envmon.journal._db import entry_from_row
from envmon.journal.audit import KIND_ALARM_PREFIX, AuditEntry, alarm_from_record

if TYPE_CHECKING:
    from envmon.journal.journal import Journal

_SHELVING = (
    KIND_ALARM_PREFIX + Transition.SHELVED.value,
    KIND_ALARM_PREFIX + Transition.UNSHELVED.value,
)


def _marks(n: int) -> str:
    return ",".join("?" * n)


def alarms_raised_before(journal: Journal, to_ns: int, rooms: Sequence[str]) -> list[Alarm]:
    """The rooms' alarms raised before ``to_ns`` and not closed, or cleared or closed at
    all (the report keeps those overlapping its window: ``report.alarms``)."""
    if not rooms:
        return []
    rows = journal._query(
        f"SELECT record FROM alarms WHERE raised_ns < ? AND room IN ({_marks(len(rooms))}) "
        "ORDER BY raised_ns, id",
        [to_ns, *rooms],
    )
    return [alarm_from_record(json.loads(r["record"])) for r in rows]


def shelving(
    journal: Journal, alarm_ids: Sequence[str]
) -> dict[str, list[tuple[Transition, int, Alarm]]]:
    """Per alarm, its ``shelved`` and ``unshelved`` entries in order:
    (transition, at, the alarm after it)."""
    out: dict[str, list[tuple[Transition, int, Alarm]]] = {}
    for start in range(0, len(alarm_ids), 500):
        chunk = list(alarm_ids[start : start + 500])
        rows = journal._query(
            f"SELECT * FROM audit WHERE kind IN (?, ?) AND subject IN ({_marks(len(chunk))}) "
            "ORDER BY seq",
            [*_SHELVING, *chunk],
        )
        for row in rows:
            entry = entry_from_row(row)
            out.setdefault(entry.subject, []).append(
                (
                    Transition(entry.data["transition"]),
                    int(entry.data["at_ns"]),
                    alarm_from_record(entry.data["alarm"]),
                )
            )
    return out


def entries(
    journal: Journal, from_ns: int, to_ns: int, subject: str | None = None
) -> list[AuditEntry]:
    """Every audit entry journaled in ``[from_ns, to_ns)``, or at any time about
    ``subject``, but alarm transitions other than shelving (the report lists alarms on
    their own), in seq order."""
    rows = journal._query(
        "SELECT * FROM audit WHERE (ts_ns >= ? AND ts_ns < ? OR subject = ?) "
        "AND (substr(kind, 1, ?) != ? OR kind IN (?, ?)) ORDER BY seq",
        [from_ns, to_ns, subject, len(KIND_ALARM_PREFIX), KIND_ALARM_PREFIX, *_SHELVING],
    )
    return [entry_from_row(r) for r in rows]


def alarm_ids_outside(journal: Journal, rooms: Sequence[str]) -> set[str]:
    """The ids of alarms of every room but ``rooms``."""
    rows = journal._query(
        f"SELECT id FROM alarms WHERE room NOT IN ({_marks(len(rooms))})", list(rooms)
    )
    return {str(r["id"]) for r in rows}
