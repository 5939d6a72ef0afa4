"""The alarm worker with a real journal, fake outputs and a fake clock, for in-process tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from envmon.alarms.commands import ApplySigned
from envmon.alarms.engine import AlarmEngine
from envmon.alarms.events import AlarmEvent, Transition
from envmon.alarms.worker import AlarmWorker
from envmon.journal.journal import Journal
from envmon.readings import Kind, Reading
from envmon.runtime.lifecycle import Deadline
from envmon.sensor_service import ServiceStates
from envmon.signing.rules import Act
from tests.support.clock import FakeClock
from tests.support.facilities import small_facility
from tests.support.signing import attempt, signer
from tests.support.wait import wait_for

NS = 1_000_000_000
T0 = 1_795_082_400


class FakeOutputs:
    def __init__(self) -> None:
        self.announced: list[AlarmEvent] = []
        self.events: list[AlarmEvent] = []

    def announce(self, events: Sequence[AlarmEvent]) -> None:
        self.announced.extend(events)

    def send(self, events: Sequence[AlarmEvent]) -> None:
        self.events.extend(events)

    def transitions(self) -> list[tuple[str, Transition]]:
        return [(e.alarm.parameter, e.transition) for e in self.events]


class FakeLines:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def submit_lines(self, lines: Sequence[str]) -> None:
        self.calls.append(list(lines))

    @property
    def lines(self) -> list[str]:
        return [line for call in self.calls for line in call]


def dp(ts_s: int, pa: float) -> Reading:
    return Reading(
        ts_s * NS, "site1", "PREP-C", "C", "DP1", Kind.PRESSURE, {"diff_pressure": pa},
        received_ns=ts_s * NS,
    )  # fmt: skip


class Rig:
    def __init__(self, journal: Journal, clock: FakeClock) -> None:
        self.journal = journal
        self.clock = clock
        self.outputs = FakeOutputs()
        self.store = FakeLines()
        self.judged: list[int] = []
        self.service_states: list[ServiceStates] = []
        self.engine = AlarmEngine(small_facility(), start_ns=clock.wall_ns())
        self.worker = AlarmWorker(
            self.engine,
            journal,
            self.outputs,
            self.store,
            on_judged=self.judged.append,
            escalate_after_s=60.0,
            clock=clock,
            on_service_states=self.service_states.append,
        )

    def sign(self, user: str, act: Act, subject: str, **params: object) -> int:
        """Sign an act the way the command line does; the worker applies the request."""
        signed = signer(self.journal, self.clock.wall_ns).sign(
            attempt(user, act, subject, params=params)
        )
        assert signed.request_id is not None
        for request in self.journal.requests.pending():
            self.worker.submit(ApplySigned(request))
        return signed.request_id

    def outcome(self, request_id: int) -> str:
        return wait_for(lambda: self.journal.requests.outcome(request_id), 5, "the outcome")

    def stop(self) -> None:
        self.worker.stop(Deadline(self.clock.monotonic() + 30, self.clock))


@contextmanager
def running_rig(tmp_path: Path) -> Iterator[Rig]:
    """A started worker over a journal in ``tmp_path``, stopped and closed after."""
    clock = FakeClock(wall_ns=T0 * NS)
    journal = Journal(tmp_path / "journal.sqlite", clock_ns=clock.wall_ns)
    r = Rig(journal, clock)
    r.worker.start()
    try:
        yield r
    finally:
        if r.worker.alive:
            r.stop()
        journal.close()
