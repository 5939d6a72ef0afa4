"""Synthetic facilities, tick pacing and the simulate command's options."""

from __future__ import annotations

import argparse
import math
import threading
from pathlib import Path

import pytest

from envmon.facility import load_facility
from envmon.readings import NS_PER_S
from envmon.simulate.command import add_simulate_arguments, parse_rate, run_simulate
from envmon.simulate.fleet import Fleet
from envmon.simulate.publisher import RunResult, run_fleet, simulated_window, tick_period_s
from envmon.simulate.synthetic import synthetic_facility, write_facility

START_NS = 1_795_000_000 * NS_PER_S


class FakeClock:
    """Monotonic and wall time that advance only when the run waits."""

    def __init__(self) -> None:
        self.now_s = 0.0

    def monotonic(self) -> float:
        return self.now_s

    def wall_ns(self) -> int:
        return START_NS + int(self.now_s * NS_PER_S)


class StoppingEvent(threading.Event):
    """An Event whose wait() advances a FakeClock instead of sleeping."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock

    def wait(self, timeout: float | None = None) -> bool:
        self.clock.now_s += timeout or 0.0
        return self.is_set()


class TestSyntheticFacility:
    def test_written_file_is_a_valid_facility_of_n_rooms(self, tmp_path: Path) -> None:
        """write_facility(N) writes a facility with N rooms and three sensors each."""
        path = tmp_path / "facility.toml"
        write_facility(9, path)
        facility = load_facility(path)
        assert len(facility.rooms) == 9
        assert len(facility.model.sensors) == 27
        assert facility.site == "site1"

    def test_rooms_form_a_pressure_cascade_in_suites_of_four(self) -> None:
        """Each A, B, C room references the next room of its suite; D rooms reference none."""
        facility = synthetic_facility(8)
        refs = {r.id: (r.grade, r.reference) for r in facility.model.rooms}
        assert refs["S001-A"] == ("A", "S001-B")
        assert refs["S001-C"] == ("C", "S001-D")
        assert refs["S001-D"] == ("D", None)
        assert refs["S002-A"] == ("A", "S002-B")

    def test_same_arguments_same_text(self, tmp_path: Path) -> None:
        """The file depends only on its arguments, so simulator and service agree."""
        write_facility(5, tmp_path / "a.toml")
        write_facility(5, tmp_path / "b.toml")
        assert (tmp_path / "a.toml").read_text() == (tmp_path / "b.toml").read_text()

    def test_zero_rooms_is_refused(self) -> None:
        """A facility needs at least one room."""
        with pytest.raises(ValueError, match="at least 1"):
            synthetic_facility(0)


class TestRunFleet:
    def run(self, **kwargs: object) -> tuple[list[tuple[str, str, bool]], FakeClock]:
        clock = FakeClock()
        sent: list[tuple[str, str, bool]] = []
        fleet = Fleet(synthetic_facility(2), START_NS)
        args: dict = {"tick_period_s": 1.0, "duration_s": None, "count": None, **kwargs}
        run_fleet(
            fleet,
            lambda t, p, r: sent.append((t, p, r)),
            stop=StoppingEvent(clock),
            wall_ns=clock.wall_ns,
            monotonic=clock.monotonic,
            **args,
        )
        return sent, clock

    def test_count_stops_after_exactly_n_readings(self) -> None:
        """--count counts sensor readings, not the retained state messages."""
        sent, _ = self.run(count=10)
        assert sum(1 for _, _, retain in sent if not retain) == 10
        assert sum(1 for _, _, retain in sent if retain) == 2

    def test_duration_bounds_the_number_of_ticks(self) -> None:
        """A 10 s run at one tick per second publishes 10 ticks of 6 readings."""
        sent, clock = self.run(duration_s=10.0)
        assert sum(1 for _, _, retain in sent if not retain) == 60
        assert clock.now_s == pytest.approx(9.0)  # the last tick; no idle wait after it

    def test_the_window_simulated_is_every_tick_and_one_period(self) -> None:
        """The window a demo reports: first tick to last tick plus a period, so each
        sensor's expected samples are the ticks and no edge looks like a gap."""
        clock = FakeClock()
        result = run_fleet(
            Fleet(synthetic_facility(2), START_NS), lambda t, p, r: None, tick_period_s=1.0,
            duration_s=10.0, count=None, stop=StoppingEvent(clock), wall_ns=clock.wall_ns,
            monotonic=clock.monotonic,
        )  # fmt: skip
        assert simulated_window(result, 1.0) == (START_NS, START_NS + 10 * NS_PER_S)
        assert simulated_window(RunResult(), 1.0) is None

    def test_timestamps_strictly_increase_even_when_the_clock_stands_still(self) -> None:
        """As fast as possible, each tick is still stamped later than the one before."""
        sent, _ = self.run(tick_period_s=0.0, count=30)
        stamps = [p.split('"ts":"')[1][:27] for t, p, r in sent if t.endswith("PC-S001-A-1")]
        assert len(stamps) == 5
        assert stamps == sorted(set(stamps))

    def test_a_set_stop_event_ends_the_run_at_once(self) -> None:
        """A stop requested before the first tick publishes nothing."""
        clock = FakeClock()
        stop = StoppingEvent(clock)
        stop.set()
        sent: list = []
        result = run_fleet(
            Fleet(synthetic_facility(1), START_NS),
            lambda t, p, r: sent.append(t),
            tick_period_s=1.0,
            duration_s=None,
            count=None,
            stop=stop,
        )
        assert sent == [] and result.ticks == 0


class TestOptions:
    def test_tick_period_from_rate(self) -> None:
        """--rate R over S sensors ticks every S/R seconds; 'max' does not wait."""
        assert tick_period_s(2.0, None, 15) == 2.0
        assert tick_period_s(2.0, 150.0, 15) == pytest.approx(0.1)
        assert tick_period_s(2.0, math.inf, 15) == 0.0

    def test_parse_rate(self) -> None:
        """--rate takes a positive number or 'max'."""
        assert parse_rate("250") == 250.0
        assert parse_rate("max") == math.inf
        for bad in ("0", "-3", "fast"):
            with pytest.raises(argparse.ArgumentTypeError):
                parse_rate(bad)

    def test_arguments_parse_into_run_simulate_keywords(self) -> None:
        """The parser's destinations are run_simulate's keyword names."""
        parser = argparse.ArgumentParser()
        add_simulate_arguments(parser)
        args = parser.parse_args(
            ["--rooms", "4", "--interval", "1", "--scenario", "demo", "--rate", "max"]
        )
        assert (args.rooms, args.interval_s, args.scenario, args.rate) == (4, 1.0, "demo", math.inf)
        assert (args.duration_s, args.count, args.seed) == (None, None, 1)

    def test_unknown_scenario_is_refused_by_the_parser(self) -> None:
        """argparse refuses a scenario that does not exist."""
        parser = argparse.ArgumentParser()
        add_simulate_arguments(parser)
        with pytest.raises(SystemExit):
            parser.parse_args(["--scenario", "nope"])


class TestRunSimulateErrors:
    def test_missing_settings_file_is_one_line_and_exit_1(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A --config that does not exist gives one message naming it, and exit code 1."""
        missing = tmp_path / "nope.toml"
        code = run_simulate(
            config=missing, host=None, port=None, rooms=None, interval_s=1.0,
            scenario="normal", rate=None, duration_s=1.0, count=None, seed=1,
        )  # fmt: skip
        err = capsys.readouterr().err
        assert code == 1
        assert str(missing) in err and "Traceback" not in err

    def test_unreachable_broker_is_one_line_and_exit_1(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """With nothing listening, the message names the broker address."""
        from tests.support.servers import free_port

        port = free_port()
        code = run_simulate(
            config=None, host="127.0.0.1", port=port, rooms=1, interval_s=1.0,
            scenario="normal", rate=None, duration_s=1.0, count=None, seed=1,
        )  # fmt: skip
        assert code == 1
        assert f"127.0.0.1:{port}" in capsys.readouterr().err
