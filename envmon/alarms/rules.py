"""One level on one side of a channel: when a value starts and stops being an excursion.

A ``LevelDetector`` watches a stream of (event time, value) against one limit
(e.g. ``action_high``) and the persistence rules in force, and says when an
excursion is confirmed (``RAISE``) and when it ends (``CLEAR``). It knows
nothing of alarms, ids or the lifecycle: ``channel.py`` turns its answers into
events. Deterministic and free of I/O and clocks; mutable only so that the hot
path allocates nothing when nothing happens.

Rules (all that are set must hold, on a reading beyond the limit):
- ``delay_ns``: beyond continuously this long, from the first reading beyond;
- ``consecutive``: at least this many consecutive readings beyond;
- ``n_of_m``: at least N of the last M readings beyond (M counts this one).
An excursion starts at the first reading beyond (for N of M: the earliest
beyond reading among the M counted) and ends at the first reading back within
the limit by more than ``deadband``; the history of N of M starts afresh after
it ends, so a new excursion needs N new readings beyond.

Transients (design.md section 10): a run of consecutive readings beyond the
limit that ends (a reading not beyond it, no deadband: none was confirmed)
before meeting the rules is a transient, answered ``TRANSIENT`` at the
reading that ends it: ``run_start_ns``, ``run_peak``, ``ended_run_samples``
and ``run_limit`` (the limit when the run began) describe it, the ending
reading's time is its end. A run that meets the rules is an excursion, never
a transient. Under N of M an excursion may start at a reading of an earlier
run (the earliest beyond among the M counted): that run stays recorded as
the transient it was when it ended. A run cut short by a restart from a
checkpoint continues; one whose limit goes away (reload, room state) ends
as a transient at that reading.

Rate of change (``rate_per_min_high``, ``rate_per_min_low``; ``RateOfChange``):
- The rate at a judged reading is ``(v - v0) / (t - t0)`` per minute, where
  (t0, v0) is the channel's previous judged reading, both times event times
  (the readings' own timestamps). Readings not judged (a fault word, out of
  range, out of service) are neither a rate's end nor its start; a reading
  not newer than the channel's last one is ignored, as everywhere. The first
  judged reading of a channel has no rate, nor has the first after a restart
  whose checkpoint held the channel idle. With ``window_s`` the rate is still
  of the readings' own values, not of the window's concentration.
- The rate is judged like a value, by two more ``LevelDetector``s:
  ``rate_per_min_high`` (> 0) is a high limit on it (a rise faster than that),
  ``rate_per_min_low`` (< 0) a low one (a fall faster than its size). The
  parameter's ``delay_s``, ``consecutive`` and ``n_of_m`` in force for the
  reading's room state apply to the rate as to the limits; ``deadband`` does
  not (a rate excursion ends at the first rate back within its limit).
- A rate excursion raises an ``alert`` alarm on the channel's parameter: a
  change faster than expected, while the value may still be within its limits
  (e.g. a freezer warming fast after its door was left open). The alarm says
  it is one by ``rule = "rate"`` and a detail such as ``rate above
  rate_per_min_high 1 per min``; its ``value``, ``peak`` (the fastest rate)
  and ``limit`` are per minute.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from envmon.readings import NS_PER_S, StateInForce

NOTHING: Final = 0
"""No transition (also: an ongoing excursion continues)."""
RAISE: Final = 1
"""The excursion is confirmed; ``start_ns``, ``peak``, ``samples`` describe it so far."""
CLEAR: Final = 2
"""The excursion ended at this reading; ``peak`` and ``samples`` are final."""
TRANSIENT: Final = 3
"""A run beyond the limit ended at this reading without meeting the rules; the
``run_*`` fields describe it until the next reading beyond."""
NS_PER_MIN: Final = 60 * NS_PER_S


@dataclass(frozen=True, slots=True)
class Persistence:
    """The rules of one parameter in one room state, in the units the detector uses."""

    delay_ns: int = 0
    consecutive: int = 1
    n: int = 0
    """N of ``n_of_m``; 0 when the rule is not set."""
    m: int = 0
    deadband: float = 0.0

    @classmethod
    def from_seconds(
        cls,
        delay_s: float = 0.0,
        consecutive: int = 1,
        n_of_m: tuple[int, int] | None = None,
        deadband: float = 0.0,
    ) -> Persistence:
        n, m = n_of_m if n_of_m is not None else (0, 0)
        return cls(round(delay_s * NS_PER_S), consecutive, n, m, deadband)


# Without an N-of-M rule a detector keeps no history: one shared deque of
# length 0 (appends are no-ops) instead of one per detector, 50 MB at 10 000 sensors.
_NO_HISTORY: Final[deque[tuple[int, float, bool, StateInForce]]] = deque(maxlen=0)


def _history(
    length: int, items: Iterable[tuple[int, float, bool, StateInForce]] = ()
) -> deque[tuple[int, float, bool, StateInForce]]:
    return _NO_HISTORY if length == 0 else deque(items, maxlen=length)


class LevelDetector:
    """Excursion detection for one limit (a level on the high or the low side)."""

    __slots__ = (
        "active",
        "ended_run_samples",
        "high",
        "history",
        "limit",
        "peak",
        "run_count",
        "run_limit",
        "run_peak",
        "run_start_ns",
        "run_state",
        "samples",
        "start_ns",
        "start_state",
    )

    def __init__(self, high: bool, history_len: int = 0) -> None:
        self.high = high
        self.active = False
        self.run_count = 0
        self.run_start_ns = 0
        self.run_peak = 0.0
        self.run_limit = 0.0
        self.ended_run_samples = 0
        self.run_state = StateInForce.IN_OPERATION
        # (ts_ns, value, beyond, room state) of the last readings, for N of M.
        self.history: deque[tuple[int, float, bool, StateInForce]] = _history(history_len)
        self.start_ns = 0
        self.start_state = StateInForce.IN_OPERATION
        self.peak = 0.0
        self.samples = 0
        self.limit = 0.0

    def to_state(self) -> dict[str, Any]:
        """Everything this detector knows, as JSON-ready values (a restart checkpoint)."""
        return {
            "active": self.active,
            "run_count": self.run_count,
            "run_start_ns": self.run_start_ns,
            "run_peak": self.run_peak,
            "run_limit": self.run_limit,
            "run_state": self.run_state.value,
            "history": [[ts, v, beyond, state.value] for ts, v, beyond, state in self.history],
            "start_ns": self.start_ns,
            "start_state": self.start_state.value,
            "peak": self.peak,
            "samples": self.samples,
            "limit": self.limit,
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Put back what ``to_state`` saved; in place, so holders of this object see it."""
        self.active = bool(state["active"])
        self.run_count = int(state["run_count"])
        self.run_start_ns = int(state["run_start_ns"])
        self.run_peak = float(state["run_peak"])
        # Checkpoints from before transients lack it: the limit of a run is its peak's
        # side of the limit, unknown then; the peak is the nearest honest figure.
        self.run_limit = float(state.get("run_limit", state["run_peak"]))
        self.run_state = StateInForce(state["run_state"])
        self.history = _history(
            self.history.maxlen or 0,
            ((int(ts), float(v), bool(b), StateInForce(s)) for ts, v, b, s in state["history"]),
        )
        self.start_ns = int(state["start_ns"])
        self.start_state = StateInForce(state["start_state"])
        self.peak = float(state["peak"])
        self.samples = int(state["samples"])
        self.limit = float(state["limit"])

    def resize_history(self, history_len: int) -> None:
        """Keep the newest readings when the longest M in force changes (config reload)."""
        if self.history.maxlen != history_len:
            self.history = _history(history_len, self.history)

    def resume(
        self, start_ns: int, peak: float, samples: int, limit: float, state: StateInForce
    ) -> None:
        """Put the detector back in an excursion that was open before a restart."""
        self.active = True
        self.start_ns, self.peak, self.samples = start_ns, peak, samples
        self.limit, self.start_state = limit, state
        self.run_count = 0
        self.history.clear()

    def observe(
        self, value: float, ts_ns: int, limit: float | None, rule: Persistence, state: StateInForce
    ) -> int:
        """Judge one reading; returns ``NOTHING``, ``RAISE``, ``CLEAR`` or ``TRANSIENT``."""
        high = self.high
        if self.active:
            if limit is None or (
                value < limit - rule.deadband if high else value > limit + rule.deadband
            ):
                self.active = False
                self.run_count = 0
                self.history.clear()
                return CLEAR
            self.samples += 1
            if value > self.peak if high else value < self.peak:
                self.peak = value
            return NOTHING

        beyond = limit is not None and (value > limit if high else value < limit)
        if rule.n:
            self.history.append((ts_ns, value, beyond, state))
        if not beyond:
            if self.run_count:
                self.ended_run_samples, self.run_count = self.run_count, 0
                return TRANSIENT
            return NOTHING
        if self.run_count == 0:
            self.run_start_ns, self.run_peak, self.run_state = ts_ns, value, state
            self.run_limit = limit  # type: ignore[assignment]  # beyond implies a limit
        elif value > self.run_peak if high else value < self.run_peak:
            self.run_peak = value
        self.run_count += 1
        if self.run_count < rule.consecutive or ts_ns - self.run_start_ns < rule.delay_ns:
            return NOTHING
        assert limit is not None  # beyond implies a limit
        self.start_ns, self.peak, self.samples = self.run_start_ns, self.run_peak, self.run_count
        self.start_state = self.run_state
        if rule.n and not self._n_of_m_met(rule.n, rule.m):
            return NOTHING
        self.active = True
        self.limit = limit
        return RAISE

    def _n_of_m_met(self, n: int, m: int) -> bool:
        """N of the last M beyond; if so, widen the excursion to the earliest counted."""
        beyond_count = 0
        earliest = -1
        last_m = list(self.history)[-m:]
        for i, (_, _, beyond, _) in enumerate(last_m):
            if beyond:
                beyond_count += 1
                if earliest < 0:
                    earliest = i
        if beyond_count < n:
            return False
        first_ts, _, _, first_state = last_m[earliest]
        if first_ts < self.start_ns:
            span = last_m[earliest:]
            values = [v for _, v, _, _ in span]
            self.start_ns, self.start_state = first_ts, first_state
            self.peak = max(values) if self.high else min(values)
            self.samples = len(span)
        return True


class RateOfChange:
    """The rate of change of one channel at each judged reading (see the module doc).

    ``rise`` and ``fall`` judge the rate against ``rate_per_min_high`` and
    ``rate_per_min_low``; ``last_ts_ns`` and ``last_value`` are the previous
    judged reading (``last_ts_ns`` -1: none yet).
    """

    __slots__ = ("fall", "last_ts_ns", "last_value", "rise")

    def __init__(self, history_len: int = 0) -> None:
        self.rise = LevelDetector(True, history_len)
        self.fall = LevelDetector(False, history_len)
        self.last_ts_ns = -1
        self.last_value = 0.0

    def rate(self, value: float, ts_ns: int) -> float | None:
        """Take a judged reading (newer than the last); its rate per minute, None for the first."""
        last_ts = self.last_ts_ns
        last_value = self.last_value
        self.last_ts_ns, self.last_value = ts_ns, value
        if last_ts < 0 or ts_ns <= last_ts:
            return None
        return (value - last_value) * NS_PER_MIN / (ts_ns - last_ts)

    def observe(
        self,
        value: float,
        ts_ns: int,
        high: float | None,
        low: float | None,
        rule: Persistence,
        state: StateInForce,
    ) -> tuple[float | None, int, int]:
        """The reading's rate, and the outcomes (``NOTHING``, ``RAISE``, ``CLEAR``) of
        the rise and the fall detectors."""
        rate = self.rate(value, ts_ns)
        if rate is None:
            return None, NOTHING, NOTHING
        outcomes = [NOTHING, NOTHING]
        for i, (detector, limit) in enumerate(((self.rise, high), (self.fall, low))):
            if limit is None and not detector.active and detector.run_count == 0:
                continue
            outcome = detector.observe(rate, ts_ns, limit, rule, state)
            # The rate rule keeps no transients: a short fast change is what it ignores.
            outcomes[i] = NOTHING if outcome == TRANSIENT else outcome
        return rate, outcomes[0], outcomes[1]

    def idle(self) -> bool:
        return not any(d.active or d.run_count or d.history for d in (self.rise, self.fall))

    def to_state(self) -> dict[str, Any]:
        return {
            "last": [self.last_ts_ns, self.last_value],
            "detectors": [self.rise.to_state(), self.fall.to_state()],
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        self.last_ts_ns, self.last_value = int(state["last"][0]), float(state["last"][1])
        self.rise.load_state(state["detectors"][0])
        self.fall.load_state(state["detectors"][1])
