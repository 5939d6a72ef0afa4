"""Limits in force over the window, and configuration changes, from the journal; pure.

Each facility load in the journal carries the limits it put in force
(``limits_snapshot``). The report splits its window at every facility load
and at every room-state change, and states for each interval which limits
applied and which load they came from: the limits a batch was judged
against, not today's file. ``limits_for_state`` is the one place that says
which of a load's limits apply in a state in force.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from itertools import pairwise

from envmon import gmp
from envmon.config_load import FACILITY, ConfigLoad
from envmon.gmp import ResolvedLimits
from envmon.limits_snapshot import LimitSet, LimitsSnapshot
from envmon.readings import RoomState, StateInForce
from envmon.report.records import LimitInterval, LimitsLoad, LimitsSource
from envmon.report.values import StateSpan

TODAYS_FILE = "facility file as it is today (no load journaled before the window)"


def limits_for_state(
    snapshot: LimitsSnapshot, owner: str, parameter: str, state: StateInForce
) -> LimitSet:
    """The limits of ``owner``'s ``parameter`` that a load puts in force in ``state``
    (``LimitSet()``: none), as the service judged them (``gmp.limits_in_force``): clean-up
    by the in-operation limits, an unknown state by the stricter of both per limit."""
    by_state = {
        room_state: _resolved(limits)
        for room_state in RoomState
        if (limits := snapshot.limits(owner, parameter, room_state)) is not None
    }
    in_force = gmp.limits_in_force(by_state).get(state)
    return LimitSet.of(in_force) if in_force is not None else LimitSet()


def _resolved(limits: LimitSet) -> ResolvedLimits:
    values = {f.name: getattr(limits, f.name) for f in fields(LimitSet)}
    return ResolvedLimits(**values, sources=dict.fromkeys(values, "journal"))


def source_of(load: ConfigLoad) -> LimitsSource:
    return LimitsSource(
        seq=load.seq,
        sha256=load.sha256,
        signed=load.signed,
        by=load.signature.user if load.signature is not None else None,
        load=load.source,
    )


def limits_loads(loads: Iterable[ConfigLoad]) -> tuple[LimitsLoad, ...]:
    """The facility loads that carry limits, oldest first, as the report uses them."""
    return tuple(
        LimitsLoad(load.at_ns, load.limits, source_of(load))
        for load in sorted(loads, key=lambda c: (c.at_ns, c.seq))
        if load.what == FACILITY and load.limits is not None
    )


def todays_file(snapshot: LimitsSnapshot, sha256: str, at_ns: int) -> LimitsLoad:
    """Today's facility file standing in where the journal has no load (a journal older
    than limits snapshots): said so in its source."""
    return LimitsLoad(at_ns, snapshot, LimitsSource(None, sha256, False, None, TODAYS_FILE))


def in_force(loads: Sequence[LimitsLoad], at_ns: int) -> LimitsLoad:
    """The last load made at or before ``at_ns``; the first one before any."""
    current = loads[0]
    for load in loads:
        if load.at_ns <= at_ns:
            current = load
    return current


def limits_in_force(
    room: str,
    equipment: str | None,
    parameters: Iterable[str],
    spans: Sequence[StateSpan],
    loads: Sequence[LimitsLoad],
) -> list[LimitInterval]:
    """Per parameter, the intervals of the room's state spans split at each load made
    during them, with the limits then in force. A parameter without any limit in any
    interval has no rows; without loads there are none at all."""
    if not loads:
        return []
    loads = sorted(loads, key=lambda load: load.at_ns)
    owner = equipment or room
    out: list[LimitInterval] = []
    for parameter in parameters:
        rows = []
        for span in spans:
            inside = sorted({ld.at_ns for ld in loads if span.start_ns < ld.at_ns < span.end_ns})
            for start, end in pairwise([span.start_ns, *inside, span.end_ns]):
                load = in_force(loads, start)
                limits = limits_for_state(load.snapshot, owner, parameter, span.state)
                rows.append(
                    LimitInterval(room, equipment, parameter, span.state, start, end, limits,
                                  load.source)
                )  # fmt: skip
        if any(r.limits.has_limits for r in rows):
            out += rows
    return out


def changes_in_window(
    loads: Iterable[ConfigLoad], from_ns: int, to_ns: int
) -> tuple[ConfigLoad, ...]:
    """Every facility or settings load made in ``[from_ns, to_ns)``, oldest first."""
    return tuple(
        sorted((c for c in loads if from_ns <= c.at_ns < to_ns), key=lambda c: (c.at_ns, c.seq))
    )
