"""Which state was in force in a room at a given event time (design.md section 4).

The state in force decides which limits judge a reading:
- ``in_operation`` / ``at_rest``: the room's last state change said so;
- ``clean_up``: the room went from in operation to at rest less than its
  ``clean_up_s`` ago (Annex 1 clean-up period), so the in-operation limits
  still apply; a repeated ``at_rest`` does not restart or end it, an
  ``in_operation`` ends it at once;
- ``unknown``: no change known yet and ``default_state = "strictest"``; with
  a default of ``at_rest`` or ``in_operation`` that state is in force instead
  (a switch to at rest from a default in operation starts a clean-up too).
Pure and clock-driven: every answer is for a timestamp it is handed.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from typing import Final

from envmon.readings import NS_PER_S, RoomState, StateInForce

_KEPT_CHANGES: Final = 256


def default_in_force(default: RoomState | None) -> StateInForce:
    """The state in force before any change: ``unknown`` for a strictest default (None)."""
    return StateInForce.UNKNOWN if default is None else StateInForce(default.value)


def clean_up_ns(clean_up_s: float) -> int:
    return round(clean_up_s * NS_PER_S)


class RoomStateHistory:
    """A room's recent state changes, so a reading is judged under the state in force at
    its own timestamp even when the change arrived after it.

    ``default`` is the state before any change, None for ``strictest``; ``clean_up_ns``
    the clean-up period. Both may change on reload (``configure``).
    """

    __slots__ = (
        "_before_any",
        "_clean_until",
        "_clean_up_ns",
        "_default",
        "_in_force",
        "_states",
        "_times",
    )

    def __init__(self, default: RoomState | None, clean_up_ns: int = 0) -> None:
        self._default = default
        # Resolved once: it answers for every reading of a room that never sent a state.
        self._before_any = default_in_force(default)
        self._clean_up_ns = clean_up_ns
        self._times: list[int] = []
        self._states: list[RoomState] = []
        # Per change: the state in force from it on, and (clean_up) when at rest begins.
        self._in_force: list[StateInForce] = []
        self._clean_until: list[int] = []

    def configure(self, default: RoomState | None, clean_up_ns: int) -> None:
        """New ``default_state`` and clean-up period (facility reload)."""
        self._default, self._clean_up_ns = default, clean_up_ns
        self._before_any = default_in_force(default)
        self._derive()

    def record(self, ts_ns: int, state: RoomState) -> None:
        """A change at ``ts_ns``; a second change at the same instant replaces the first."""
        i = bisect_right(self._times, ts_ns)
        if i and self._times[i - 1] == ts_ns:
            self._states[i - 1] = state
        else:
            self._times.insert(i, ts_ns)
            self._states.insert(i, state)
            if len(self._times) > _KEPT_CHANGES:
                del self._times[0], self._states[0]
        self._derive()

    def _derive(self) -> None:
        """What each change puts in force. Changes are rare: recomputed whole each time."""
        in_force: list[StateInForce] = []
        until: list[int] = []
        before = self._default
        run_until = 0
        for ts, state in zip(self._times, self._states, strict=True):
            if state is RoomState.AT_REST:
                if before is RoomState.IN_OPERATION:
                    run_until = ts + self._clean_up_ns
                elif before is not RoomState.AT_REST:
                    run_until = 0  # from unknown: nothing to clean up after
                in_force.append(StateInForce.CLEAN_UP if run_until > ts else StateInForce.AT_REST)
                until.append(run_until)
            else:
                in_force.append(StateInForce.IN_OPERATION)
                until.append(0)
            before = state
        self._in_force, self._clean_until = in_force, until

    def at(self, ts_ns: int) -> StateInForce:
        """The state in force at ``ts_ns`` (a change applies from its own timestamp on)."""
        times = self._times
        if not times:
            return self._before_any
        i = len(times) if ts_ns >= times[-1] else bisect_right(times, ts_ns)
        if not i:
            return self._before_any
        state = self._in_force[i - 1]
        if state is StateInForce.CLEAN_UP and ts_ns >= self._clean_until[i - 1]:
            return StateInForce.AT_REST
        return state

    def edges(self) -> list[int]:
        """Every instant the state in force may change: each change, each clean-up's end."""
        return sorted({*self._times, *(t for t in self._clean_until if t)})

    @property
    def current(self) -> RoomState | None:
        """The last known room state; None while none is known and the default is strictest."""
        return self._states[-1] if self._states else self._default


def state_spans(
    default: RoomState | None,
    clean_up_s: float,
    changes: Iterable[tuple[int, RoomState]],
    from_ns: int,
    to_ns: int,
) -> list[tuple[StateInForce, int, int]]:
    """The states in force over [from, to) as (state, start, end), joined where equal:
    ``changes`` are (ts_ns, state) pairs, any order, those before ``from_ns`` included."""
    history = RoomStateHistory(default, clean_up_ns(clean_up_s))
    for ts, state in changes:
        history.record(ts, state)
    bounds = {from_ns, *(t for t in history.edges() if from_ns < t < to_ns)}
    spans: list[tuple[StateInForce, int, int]] = []
    edges = sorted(bounds)
    for start, end in zip(edges, [*edges[1:], to_ns], strict=True):
        in_force = history.at(start)
        if spans and spans[-1][0] is in_force:
            spans[-1] = (in_force, spans[-1][1], end)
        else:
            spans.append((in_force, start, end))
    return spans
