"""Built-in GMP particle limits and the resolution of a room's or equipment's limits.

Numbers come from three places, in this order of precedence: the facility
file (it overrides only the keys it names), the EU GMP Annex 1 (2022) table of
the contract (design.md section 4, used as *action* limits), and the
ISO 14644-1 class formula for rooms declared by ``iso_class``. Equipment has
only the file's numbers: Annex 1 grades rooms. Every resolved number carries a
readable source so ``check-config`` can show where it came from. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Final

from envmon.errors import ConfigError
from envmon.facility import Equipment, Facility, LimitRule, ParameterLimits, Room, parameters_of
from envmon.readings import PARTICLES_0_5UM, PARTICLES_5_0UM, RoomState, StateInForce

SOURCE_DEFAULT: Final = "default"
SOURCE_FACILITY: Final = "facility file"

LIMIT_KEYS: Final = ("alert_high", "action_high", "alert_low", "action_low")
RULE_KEYS: Final = ("delay_s", "consecutive", "n_of_m", "window_s", "deadband")
RATE_KEYS: Final = ("rate_per_min_high", "rate_per_min_low")

_STATE_WORDS: Final[Mapping[RoomState, str]] = {
    RoomState.AT_REST: "at rest",
    RoomState.IN_OPERATION: "in operation",
}

PARTICLE_SIZE_UM: Final[Mapping[str, float]] = {PARTICLES_0_5UM: 0.5, PARTICLES_5_0UM: 5.0}

# EU GMP Annex 1 (2022), total particles, maximum counts/m³ (design.md section 4).
# None: Annex 1 leaves grade D in operation to the site.
_A, _O = RoomState.AT_REST, RoomState.IN_OPERATION
ANNEX1_ACTION_LIMITS_PER_M3: Final[Mapping[tuple[str, RoomState, str], float | None]] = {
    ("A", _A, PARTICLES_0_5UM): 3_520.0,
    ("A", _A, PARTICLES_5_0UM): 29.0,
    ("A", _O, PARTICLES_0_5UM): 3_520.0,
    ("A", _O, PARTICLES_5_0UM): 29.0,
    ("B", _A, PARTICLES_0_5UM): 3_520.0,
    ("B", _A, PARTICLES_5_0UM): 29.0,
    ("B", _O, PARTICLES_0_5UM): 352_000.0,
    ("B", _O, PARTICLES_5_0UM): 2_930.0,
    ("C", _A, PARTICLES_0_5UM): 352_000.0,
    ("C", _A, PARTICLES_5_0UM): 2_930.0,
    ("C", _O, PARTICLES_0_5UM): 3_520_000.0,
    ("C", _O, PARTICLES_5_0UM): 29_300.0,
    ("D", _A, PARTICLES_0_5UM): 3_520_000.0,
    ("D", _A, PARTICLES_5_0UM): 29_300.0,
    ("D", _O, PARTICLES_0_5UM): None,
    ("D", _O, PARTICLES_5_0UM): None,
}

# ISO 14644-1:2015 Table 1 leaves a cell empty where sampling statistics make a
# class limit meaningless: ≥0.5 µm below ISO 3 (ISO 2 is blank there; the 1999
# edition's 4 is gone), ≥5.0 µm below ISO 6 (footnote e).
_ISO_SMALLEST_CLASS_WITH_LIMIT: Final[Mapping[float, float]] = {0.5: 3.0, 5.0: 6.0}
# ISO 14644-1:2015 Table 1, footnote: ISO class 9 applies to the in-operation state only.
_ISO_IN_OPERATION_ONLY_FROM: Final = 9.0


@dataclass(frozen=True, slots=True)
class ResolvedLimits:
    """The limits and rules in force for one room, parameter and room state.

    A limit of None means no alarm on that side and level. ``sources`` maps
    every key of ``LIMIT_KEYS``, ``RULE_KEYS`` and ``RATE_KEYS`` to where its
    value came from (the rate keys may be missing from it when unset).
    """

    alert_high: float | None
    action_high: float | None
    alert_low: float | None
    action_low: float | None
    delay_s: float
    consecutive: int
    n_of_m: tuple[int, int] | None
    window_s: float | None
    deadband: float
    sources: Mapping[str, str]
    rate_per_min_high: float | None = None
    rate_per_min_low: float | None = None

    @property
    def has_limits(self) -> bool:
        """Whether anything is judged: a limit, or a rate limit."""
        return any(getattr(self, key) is not None for key in LIMIT_KEYS + RATE_KEYS)

    @property
    def has_rate(self) -> bool:
        return self.rate_per_min_high is not None or self.rate_per_min_low is not None


def iso_concentration_limit(iso_class: float, particle_size_um: float) -> float:
    """ISO 14644-1 Cn = 10^N * (0.1/D)^2.08 counts/m³, rounded as Table 1 does.

    Table 1 shows three significant figures and no fractions (ISO 3 at 0.5 µm
    is 35, ISO 5 at 0.5 µm is 3 520, ISO 7 at 5 µm is 2 930).
    """
    raw = 10.0**iso_class * (0.1 / particle_size_um) ** 2.08
    three_figures = float(f"{raw:.3g}")
    return float(math.floor(three_figures + 0.5))


def iso_class_limit(
    iso_class: float, parameter: str, state: RoomState = RoomState.IN_OPERATION
) -> float | None:
    """The class limit for a particle parameter in ``state``; None where ISO 14644-1:2015
    gives none (a blank cell of Table 1, or ISO 9 at rest)."""
    size_um = PARTICLE_SIZE_UM.get(parameter)
    if size_um is None or iso_class < _ISO_SMALLEST_CLASS_WITH_LIMIT[size_um]:
        return None
    if state is RoomState.AT_REST and iso_class >= _ISO_IN_OPERATION_ONLY_FROM:
        return None
    return iso_concentration_limit(iso_class, size_um)


def annex1_action_limit(grade: str, state: RoomState, parameter: str) -> float | None:
    """Annex 1 maximum for a grade and state; None if the table has no number."""
    return ANNEX1_ACTION_LIMITS_PER_M3.get((grade, state, parameter))


def _builtin_action_high(room: Room, parameter: str, state: RoomState) -> tuple[float | None, str]:
    if parameter not in PARTICLE_SIZE_UM:
        return None, SOURCE_DEFAULT
    size = f"≥{PARTICLE_SIZE_UM[parameter]:g} µm"
    if room.grade is not None:
        limit = annex1_action_limit(room.grade, state, parameter)
        if limit is not None:
            return limit, f"Annex 1 table, grade {room.grade} {_STATE_WORDS[state]}"
        if room.iso_class is None:
            return (
                None,
                f"none: Annex 1 leaves grade {room.grade} {_STATE_WORDS[state]} site-defined",
            )
    assert room.iso_class is not None
    limit = iso_class_limit(room.iso_class, parameter, state)
    if limit is None and iso_class_limit(room.iso_class, parameter) is not None:
        return None, f"none: ISO 14644-1 class {room.iso_class:g} applies in operation only"
    if limit is None:
        return None, f"none: ISO 14644-1 has no {size} limit for class {room.iso_class:g}"
    return limit, f"ISO 14644-1 class {room.iso_class:g}"


def resolve_limits(room: Room, parameter: str, state: RoomState) -> ResolvedLimits:
    """The room's limits for ``parameter`` in ``state``, with the source of each.

    Raises ``ConfigError`` naming room, parameter and state when the merged
    result is inconsistent (an alert limit beyond its action limit, or a low
    limit not below a high one).
    """
    builtin = _builtin_action_high(room, parameter, state)
    resolved = _merge(room.limits.get(parameter), builtin, state)
    _check_consistent(f"room {room.id}", parameter, state, resolved)
    return resolved


def resolve_equipment_limits(
    equipment: Equipment, parameter: str, state: RoomState
) -> ResolvedLimits:
    """The equipment's limits for ``parameter`` in its room's ``state``: the file's only."""
    resolved = _merge(equipment.limits.get(parameter), (None, SOURCE_DEFAULT), state)
    _check_consistent(f"equipment {equipment.id}", parameter, state, resolved)
    return resolved


def _merge(
    rule: ParameterLimits | None, builtin: tuple[float | None, str], state: RoomState
) -> ResolvedLimits:
    values: dict[str, object] = {
        "alert_high": None,
        "action_high": None,
        "alert_low": None,
        "action_low": None,
        "delay_s": 0.0,
        "consecutive": 1,
        "n_of_m": None,
        "window_s": None,
        "deadband": 0.0,
        "rate_per_min_high": None,
        "rate_per_min_low": None,
    }
    sources = dict.fromkeys(values, SOURCE_DEFAULT)
    values["action_high"], sources["action_high"] = builtin
    if rule is not None:
        specific = rule.at_rest if state is RoomState.AT_REST else rule.in_operation
        merged: LimitRule = rule.for_state(state)
        for key in values:
            value = getattr(merged, key)
            if value is None:
                continue
            values[key] = value
            from_state = specific is not None and getattr(specific, key) is not None
            sources[key] = f"{SOURCE_FACILITY}, {state.value}" if from_state else SOURCE_FACILITY
    return ResolvedLimits(**values, sources=sources)  # type: ignore[arg-type]


_STRICTER_HIGH: Final = ("action_high", "alert_high", "rate_per_min_high")
_STRICTER_LOW: Final = ("action_low", "alert_low", "rate_per_min_low")
# The order in which the two states' limits are compared to choose whose rules apply.
_DECIDING_KEYS: Final = ("action_high", "action_low", "alert_high", "alert_low")


def strictest_limits(at_rest: ResolvedLimits, in_operation: ResolvedLimits) -> ResolvedLimits:
    """The limits while a room's state is unknown (``default_state = "strictest"``).

    Per limit key the stricter of the two states: the lower high limit, the
    higher low limit, the lower ``rate_per_min_high`` and the ``rate_per_min_low``
    nearer zero; a limit one state lacks is taken from the other. The rules
    (``delay_s``, ``consecutive``, ``n_of_m``, ``window_s``, ``deadband``) are not
    mixed key by key, since they only mean something together: they are the
    whole set of the stricter state, the one whose action limit is the stricter
    (compared in the order ``action_high``, ``action_low``, ``alert_high``,
    ``alert_low``, the first that differs deciding; at rest when none differs,
    the state Annex 1 holds to the tighter numbers).
    """
    sides = ((RoomState.AT_REST, at_rest), (RoomState.IN_OPERATION, in_operation))
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    for key in (*LIMIT_KEYS, *RATE_KEYS):
        candidates = [(getattr(lim, key), state, lim) for state, lim in sides]
        present = [c for c in candidates if c[0] is not None]
        if not present:
            values[key] = None
            if key in at_rest.sources:
                sources[key] = at_rest.sources[key]
            continue
        pick = min if key in _STRICTER_HIGH else max
        value, state, lim = pick(present, key=lambda c: c[0])
        values[key] = value
        sources[key] = f"strictest: {state.value}, {lim.sources.get(key, SOURCE_DEFAULT)}"
    ruling_state, ruling = sides[0]
    for key in _DECIDING_KEYS:
        a, b = getattr(at_rest, key), getattr(in_operation, key)
        if a != b:
            if values[key] == b:
                ruling_state, ruling = sides[1]
            break
    for key in RULE_KEYS:
        values[key] = getattr(ruling, key)
        sources[key] = f"strictest: rules of {ruling_state.value}, {ruling.sources[key]}"
    return ResolvedLimits(**values, sources=sources)  # type: ignore[arg-type]


def limits_in_force(
    by_state: Mapping[RoomState, ResolvedLimits],
) -> dict[StateInForce, ResolvedLimits]:
    """The limits for each state in force, from the two room states' limits: clean-up
    judges by the in-operation limits, ``unknown`` by ``strictest_limits``."""
    out: dict[StateInForce, ResolvedLimits] = {}
    at_rest = by_state.get(RoomState.AT_REST)
    in_operation = by_state.get(RoomState.IN_OPERATION)
    if at_rest is not None:
        out[StateInForce.AT_REST] = at_rest
    if in_operation is not None:
        out[StateInForce.IN_OPERATION] = out[StateInForce.CLEAN_UP] = in_operation
    if at_rest is not None and in_operation is not None:
        out[StateInForce.UNKNOWN] = strictest_limits(at_rest, in_operation)
    elif at_rest is not None or in_operation is not None:
        out[StateInForce.UNKNOWN] = at_rest or in_operation  # type: ignore[assignment]
    return out


def _check_consistent(
    owner: str, parameter: str, state: RoomState | str, lim: ResolvedLimits
) -> None:
    def shown(key: str) -> str:
        return f"{key} {getattr(lim, key):g} ({lim.sources[key]})"

    problems = []
    # (key that must be lower, key that must be higher, may they be equal)
    ordered = [
        ("alert_high", "action_high", True),
        ("action_low", "alert_low", True),
        ("alert_low", "alert_high", False),
        ("alert_low", "action_high", False),
        ("action_low", "alert_high", False),
        ("action_low", "action_high", False),
    ]
    for lower, higher, may_equal in ordered:
        low_v, high_v = getattr(lim, lower), getattr(lim, higher)
        if low_v is None or high_v is None:
            continue
        if low_v > high_v or (low_v == high_v and not may_equal):
            problems.append(f"{shown(lower)} must be below {shown(higher)}")
    if problems:
        where = f"{owner}, limits.{parameter} ({state})"
        raise ConfigError("; ".join(f"{where}: {p}" for p in problems))


def resolve_room(
    room: Room, parameters: Iterable[str]
) -> dict[str, dict[RoomState, ResolvedLimits]]:
    """Every (parameter, state) of a room resolved; raises ``ConfigError`` on the first problem."""
    return {p: {s: resolve_limits(room, p, s) for s in RoomState} for p in parameters}


def resolve_equipment(
    equipment: Equipment, parameters: Iterable[str]
) -> dict[str, dict[RoomState, ResolvedLimits]]:
    """Every (parameter, state) of a piece of equipment resolved; ``ConfigError`` on a problem."""
    return {
        p: {s: resolve_equipment_limits(equipment, p, s) for s in RoomState} for p in parameters
    }


LimitsTable = dict[str, dict[RoomState, ResolvedLimits]]
"""Parameter → room state → resolved limits, of one room or one piece of equipment."""


def resolve_facility(facility: Facility) -> tuple[dict[str, LimitsTable], dict[str, LimitsTable]]:
    """Limits of every room for every parameter, and of every piece of equipment for
    the parameters its sensors measure or its limits name; ``ConfigError`` on a problem.

    Equal limits come back as one shared object: a site has many rooms of one
    grade that resolve alike, and the service holds these for its whole life.
    """
    parameters = tuple(facility.parameters)
    shared = _SharedLimits()
    rooms = {room.id: shared.table(resolve_room(room, parameters)) for room in facility.model.rooms}
    equipment = {}
    for item in facility.model.equipment:
        measured = {p for s in facility.sensors_on(item.id) for p in parameters_of(s)}
        table = resolve_equipment(item, sorted(measured | set(item.limits)))
        equipment[item.id] = shared.table(table)
    for room in facility.model.rooms:
        if room.default_state == "strictest":
            _check_strictest(f"room {room.id}", rooms[room.id])
            for item in facility.equipment_in(room.id):
                _check_strictest(f"equipment {item.id}", equipment[item.id])
    return rooms, equipment


def _check_strictest(owner: str, table: LimitsTable) -> None:
    """The strictest merge of two consistent states may cross (a low limit of one
    above a high limit of the other): then an unknown state would alarm on anything."""
    for parameter, by_state in table.items():
        merged = limits_in_force(by_state).get(StateInForce.UNKNOWN)
        if merged is not None:
            _check_consistent(
                owner, parameter, 'default_state "strictest", the stricter of both states', merged
            )


class _SharedLimits:
    """One object for each distinct value among the tables given to ``table``."""

    def __init__(self) -> None:
        self._limits: dict[tuple[object, ...], ResolvedLimits] = {}
        self._by_state: dict[tuple[object, ...], dict[RoomState, ResolvedLimits]] = {}

    def table(self, table: LimitsTable) -> LimitsTable:
        out: LimitsTable = {}
        for parameter, by_state in table.items():
            states = {state: self._one(limits) for state, limits in by_state.items()}
            # The ResolvedLimits are shared by now, so their identities name the mapping.
            key = tuple((state, id(limits)) for state, limits in states.items())
            out[parameter] = self._by_state.setdefault(key, states)
        return out

    def _one(self, limits: ResolvedLimits) -> ResolvedLimits:
        values = tuple(getattr(limits, f.name) for f in fields(limits) if f.name != "sources")
        key = (*values, tuple(sorted(limits.sources.items())))
        return self._limits.setdefault(key, limits)
