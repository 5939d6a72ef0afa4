"""Everything the batch record reads from the journal, in one read-only open.

The I/O edge for the sections of design.md section 10: excursions with
their acknowledgements and room-state changes (as before), and now the
alarms with their shelvings, the sensors' service periods, the facility
loads in force (today's file standing in, said so, where the journal has
none from before the window), the configuration loads of the window, the
audit entries of the window and the journal head. ``build_report`` does the
rest with plain values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from envmon.alarms.events import Transient
from envmon.config_load import ConfigLoad
from envmon.facility import Facility
from envmon.journal import window
from envmon.journal.audit import AuditEntry
from envmon.journal.journal import Journal
from envmon.limits_snapshot import snapshot_of
from envmon.readings import RoomStateChange
from envmon.report.alarms import overlaps, shelved_periods
from envmon.report.limits import limits_loads, todays_file
from envmon.report.records import AlarmRecord, JournalHead, LimitsLoad
from envmon.report.values import AckedExcursion
from envmon.sensor_service import ServicePeriod


@dataclass(frozen=True)
class JournalRecord:
    excursions: tuple[AckedExcursion, ...]
    state_changes: tuple[RoomStateChange, ...]
    alarms: tuple[AlarmRecord, ...]
    service_periods: tuple[ServicePeriod, ...]
    limit_loads: tuple[LimitsLoad, ...]
    config_loads: tuple[ConfigLoad, ...]
    audit: tuple[AuditEntry, ...]
    audit_foreign: frozenset[str]
    head: JournalHead
    transients: tuple[Transient, ...]
    """Runs beyond a limit that began in the window and met no rule."""


def read_record(
    path: Path,
    facility: Facility,
    from_ns: int,
    to_ns: int,
    rooms: Sequence[str],
    batch: str | None = None,
) -> JournalRecord:
    """What the journal at ``path`` says about ``rooms`` over ``[from_ns, to_ns)``, and
    about ``batch`` whenever."""
    rooms = list(rooms)
    sensors = [s.id for s in facility.model.sensors if s.room in rooms]
    with Journal(path, readonly=True) as journal:
        records = journal.excursions(from_ns, to_ns, rooms)
        changes = journal.room_state_changes(from_ns, to_ns, rooms)
        alarms = [
            a for a in window.alarms_raised_before(journal, to_ns, rooms)
            if overlaps(a, from_ns, to_ns)
        ]  # fmt: skip
        shelvings = window.shelving(journal, [a.id for a in alarms])
        periods = journal.requests.service_periods(from_ns, to_ns, sensors)
        timeline = journal.configs.facility_timeline(from_ns, to_ns)
        config_loads = journal.configs.loads(from_ns, to_ns)
        audit = window.entries(journal, from_ns, to_ns, batch)
        foreign = window.alarm_ids_outside(journal, rooms)
        transients = journal.transients(from_ns, to_ns, rooms)
        seq, sha256 = journal.head()
    loads = limits_loads(timeline)
    if not loads or loads[0].at_ns > from_ns:
        loads = (todays_file(snapshot_of(facility), facility.sha256, from_ns), *loads)
    foreign |= {r for r in facility.rooms if r not in rooms}
    foreign |= {s.id for s in facility.model.sensors if s.room not in rooms}
    foreign |= {e.id for e in facility.model.equipment if e.room not in rooms}
    return JournalRecord(
        excursions=tuple(
            AckedExcursion(r.excursion, r.acked_by, r.acked_ns, r.comment) for r in records
        ),
        state_changes=tuple(changes),
        alarms=tuple(AlarmRecord(a, shelved_periods(shelvings.get(a.id, ()))) for a in alarms),
        service_periods=tuple(periods),
        limit_loads=loads,
        config_loads=tuple(config_loads),
        audit=tuple(audit),
        audit_foreign=frozenset(foreign),
        head=JournalHead(seq, sha256),
        transients=tuple(transients),
    )
