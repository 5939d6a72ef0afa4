"""A room state's ``ResolvedLimits``, compiled once for the per-reading path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from envmon.alarms.rules import Persistence
from envmon.gmp import ResolvedLimits, limits_in_force
from envmon.readings import NS_PER_S, RoomState, StateInForce

_NO_PERSISTENCE: Final = Persistence()


@dataclass(frozen=True, slots=True)
class StateRules:
    """``ResolvedLimits`` of one room state, compiled for the hot path."""

    limits: tuple[float | None, float | None, float | None, float | None]
    persistence: Persistence
    window_ns: int
    """0 when judging each reading on its own."""
    window_s: float | None = None
    rate_high: float | None = None
    rate_low: float | None = None
    rate_persistence: Persistence = _NO_PERSISTENCE
    """The parameter's delay and persistence without its deadband (``rules.py``)."""

    @classmethod
    def compile(cls, resolved: ResolvedLimits) -> StateRules:
        persistence = Persistence.from_seconds(
            resolved.delay_s, resolved.consecutive, resolved.n_of_m, resolved.deadband
        )
        rate_persistence = _NO_PERSISTENCE
        if resolved.has_rate:
            rate_persistence = Persistence.from_seconds(
                resolved.delay_s, resolved.consecutive, resolved.n_of_m, 0.0
            )
        return cls(
            limits=(
                resolved.alert_high,
                resolved.action_high,
                resolved.alert_low,
                resolved.action_low,
            ),
            persistence=persistence,
            window_ns=round(resolved.window_s * NS_PER_S) if resolved.window_s else 0,
            window_s=resolved.window_s,
            rate_high=resolved.rate_per_min_high,
            rate_low=resolved.rate_per_min_low,
            rate_persistence=rate_persistence,
        )

    @property
    def has_rate(self) -> bool:
        return self.rate_high is not None or self.rate_low is not None


NO_RULES: Final = StateRules(
    limits=(None, None, None, None), persistence=Persistence(), window_ns=0
)


_SHARED: dict[tuple[StateRules, ...], Mapping[StateInForce, StateRules]] = {}


def rules_by_state(
    limits: Mapping[StateInForce, ResolvedLimits],
) -> Mapping[StateInForce, StateRules]:
    """Every state in force's compiled rules (``NO_RULES`` where nothing is resolved).

    Equal rules come back as one shared, read-only mapping: thousands of
    channels of one kind of room judge alike, for the service's whole life.
    """
    rules = {
        state: StateRules.compile(limits[state]) if state in limits else NO_RULES
        for state in StateInForce
    }
    return _SHARED.setdefault(tuple(rules.values()), rules)


_BY_TABLE: dict[
    int, tuple[Mapping[RoomState, ResolvedLimits], Mapping[StateInForce, StateRules]]
] = {}


def rules_for(limits: Mapping[RoomState, ResolvedLimits]) -> Mapping[StateInForce, StateRules]:
    """``rules_by_state`` of the states in force of a room state's limits, worked out once
    per limits mapping: ``resolve_facility`` hands equal rooms one shared mapping, and a
    campus has tens of thousands of channels. The mapping is kept with its rules, so its
    identity cannot be reused while cached."""
    cached = _BY_TABLE.get(id(limits))
    if cached is not None and cached[0] is limits:
        return cached[1]
    rules = rules_by_state(limits_in_force(limits))
    _BY_TABLE[id(limits)] = (limits, rules)
    return rules
