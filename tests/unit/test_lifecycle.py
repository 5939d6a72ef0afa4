"""The component lifecycle: start in order, stop in reverse, then close in reverse."""

from __future__ import annotations

import pytest

from envmon.errors import ConfigError
from envmon.runtime.lifecycle import Closes, Deadline, Lifecycle
from tests.support.clock import FakeClock


class Recorder:
    """A component that writes what happens to it into a shared list."""

    def __init__(self, name: str, log: list[str], *, fail_on: str = "", advance_s: float = 0.0,
                 clock: FakeClock | None = None) -> None:  # fmt: skip
        self.name = name
        self.log = log
        self.fail_on = fail_on
        self.advance_s = advance_s
        self.clock = clock
        self.deadlines: list[float] = []

    def _do(self, what: str) -> None:
        self.log.append(f"{what} {self.name}")
        if what == self.fail_on:
            raise ConfigError(f"{self.name}: cannot {what}")

    def validate(self) -> None:
        self._do("validate")

    def start(self) -> None:
        self._do("start")

    def stop(self, deadline: Deadline) -> None:
        self.deadlines.append(deadline.remaining())
        if self.clock is not None:
            self.clock.advance(self.advance_s)
        self._do("stop")

    def close(self) -> None:
        self._do("close")


class TestLifecycle:
    def test_order(self) -> None:
        """Validate all, start in order; stop in reverse, then close in reverse."""
        log: list[str] = []
        cycle = Lifecycle([Recorder("a", log), Recorder("b", log), Recorder("c", log)])
        cycle.start()
        cycle.stop(budget_s=8)
        assert log == [
            "validate a", "validate b", "validate c",
            "start a", "start b", "start c",
            "stop c", "stop b", "stop a",
            "close c", "close b", "close a",
        ]  # fmt: skip

    def test_invalid_component_starts_nothing(self) -> None:
        """A validation error is raised before any component starts."""
        log: list[str] = []
        cycle = Lifecycle([Recorder("a", log), Recorder("b", log, fail_on="validate")])
        with pytest.raises(ConfigError, match="b: cannot validate"):
            cycle.start()
        assert not [entry for entry in log if entry.startswith("start")]

    def test_failed_start_stops_what_was_started(self) -> None:
        """If one component cannot start, those started before it are stopped and closed."""
        log: list[str] = []
        cycle = Lifecycle(
            [Recorder("a", log), Recorder("b", log, fail_on="start"), Recorder("c", log)]
        )
        with pytest.raises(ConfigError):
            cycle.start()
        assert log[-3:] == ["start b", "stop a", "close a"]
        assert "start c" not in log

    def test_a_failing_stop_does_not_skip_the_others(self) -> None:
        """One component failing to stop or close still lets the rest stop and close."""
        log: list[str] = []
        cycle = Lifecycle(
            [Recorder("a", log), Recorder("b", log, fail_on="stop"), Recorder("c", log)]
        )
        cycle.start()
        cycle.stop(budget_s=8)
        assert log[-6:] == ["stop c", "stop b", "stop a", "close c", "close b", "close a"]

    def test_one_budget_for_all_stops(self) -> None:
        """Each stop sees what the earlier stops left of the one budget."""
        clock = FakeClock()
        log: list[str] = []
        a = Recorder("a", log, clock=clock, advance_s=1)
        b = Recorder("b", log, clock=clock, advance_s=3)
        cycle = Lifecycle([a, b], clock)
        cycle.start()
        cycle.stop(budget_s=8)
        assert b.deadlines == [8] and a.deadlines == [5]

    def test_deadline_reserve_and_floor(self) -> None:
        """A component keeps time for those after it, but always gets its floor."""
        clock = FakeClock()
        deadline = Deadline(clock.monotonic() + 3, clock)
        assert deadline.remaining(0.5, reserve_s=2) == 1
        assert deadline.remaining(0.5, reserve_s=5) == 0.5

    def test_closes_only_closes(self) -> None:
        """A resource such as the journal is only closed, last."""
        closed: list[str] = []
        log: list[str] = []
        cycle = Lifecycle([Closes("journal", lambda: closed.append("journal")), Recorder("a", log)])
        cycle.start()
        assert closed == []
        cycle.stop(budget_s=1)
        assert closed == ["journal"] and log[-1] == "close a"
        assert cycle.order == ["journal", "a"]
