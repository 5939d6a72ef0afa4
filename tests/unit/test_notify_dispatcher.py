"""The dispatcher: flap decisions (pure) and delivery with retries through a fake notifier."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from envmon.alarms.events import AlarmEvent, AlarmState, Level, Transition
from envmon.notify.base import NotifyError
from envmon.notify.config import NotifySettings
from envmon.notify.dispatcher import Decision, Dispatcher, FlapFilter
from tests.support.journal_samples import T0, S, acked, alarm, cleared, raised

SUPPRESS_S = 300.0


class FakeNotifier:
    """Records what it was sent; fails the first ``failures`` attempts."""

    def __init__(self, name: str = "fake", failures: int = 0, retries: int = 3) -> None:
        self.name = name
        self.retries = retries
        self.failures = failures
        self.attempts = 0
        self.sent: list[AlarmEvent] = []
        self.gate = threading.Event()
        self.gate.set()

    def send(self, event: AlarmEvent) -> None:
        self.gate.wait(10)
        self.attempts += 1
        if self.attempts <= self.failures:
            raise NotifyError(f"refused attempt {self.attempts}")
        self.sent.append(event)


class Clock:
    def __init__(self) -> None:
        self.now_ns = T0

    def __call__(self) -> int:
        return self.now_ns


def settings(**kw: float) -> NotifySettings:
    return NotifySettings(
        flap_suppress_s=kw.get("flap_suppress_s", SUPPRESS_S),
        retry_initial_s=kw.get("retry_initial_s", 0.01),
        retry_max_s=kw.get("retry_max_s", 0.02),
    )


class TestFlapFilter:
    def test_first_raise_is_sent(self) -> None:
        """A channel's first raise is FIRST."""
        assert FlapFilter(SUPPRESS_S).decide(raised(alarm("A1")), T0) is Decision.FIRST

    def test_raise_again_within_window_is_suppressed(self) -> None:
        """A new alarm on the same channel within flap_suppress_s is FLAP_SUPPRESSED."""
        f = FlapFilter(SUPPRESS_S)
        f.decide(raised(alarm("A1")), T0)
        assert f.decide(raised(alarm("A2")), T0 + 299 * S) is Decision.FLAP_SUPPRESSED

    def test_window_counts_from_the_last_notified_raise(self) -> None:
        """Suppressed raises do not extend the window: a flapper is re-notified once per window."""
        f = FlapFilter(SUPPRESS_S)
        got = [f.decide(raised(alarm(f"A{i}")), T0 + i * 100 * S) for i in range(8)]
        assert got == [
            Decision.FIRST,
            Decision.FLAP_SUPPRESSED,
            Decision.FLAP_SUPPRESSED,
            Decision.FIRST,
            Decision.FLAP_SUPPRESSED,
            Decision.FLAP_SUPPRESSED,
            Decision.FIRST,
            Decision.FLAP_SUPPRESSED,
        ]

    @pytest.mark.parametrize(
        "other",
        [
            {"room": "BG-B"},
            {"sensor": "PC-FILL-2"},
            {"parameter": "particles_0_5um"},
            {"level": Level.ALERT},
        ],
    )
    def test_channels_are_independent(self, other: dict[str, object]) -> None:
        """A raise on another room, sensor, parameter or level is not suppressed."""
        f = FlapFilter(SUPPRESS_S)
        f.decide(raised(alarm("A1")), T0)
        assert f.decide(raised(alarm("A2", **other)), T0 + S) is Decision.FIRST  # type: ignore[arg-type]

    def test_follow_ups_of_notified_and_suppressed_alarms(self) -> None:
        """Later transitions follow their raise's fate; a closed alarm is forgotten."""
        f = FlapFilter(SUPPRESS_S)
        a1, a2 = alarm("A1"), alarm("A2")
        f.decide(raised(a1), T0)
        f.decide(raised(a2), T0 + S)
        assert f.decide(cleared(a1, T0 + 2 * S), T0 + 2 * S) is Decision.FOLLOW_UP
        c2 = cleared(a2, T0 + 3 * S)
        assert f.decide(c2, T0 + 3 * S) is Decision.FOLLOWS_SUPPRESSED
        closing = acked(c2.alarm, T0 + 4 * S)
        assert closing.alarm.state is AlarmState.CLOSED
        assert f.decide(closing, T0 + 4 * S) is Decision.FOLLOWS_SUPPRESSED
        assert f.decide(closing, T0 + 5 * S) is Decision.FOLLOW_UP

    def test_escalation_is_always_sent(self) -> None:
        """Escalation of a suppressed alarm is still sent."""
        f = FlapFilter(SUPPRESS_S)
        f.decide(raised(alarm("A1")), T0)
        f.decide(raised(alarm("A2")), T0 + S)
        esc = AlarmEvent(Transition.ESCALATED, alarm("A2"), T0 + 900 * S)
        assert f.decide(esc, T0 + 900 * S) is Decision.ESCALATION

    def test_zero_window_never_suppresses(self) -> None:
        """flap_suppress_s = 0 turns suppression off."""
        f = FlapFilter(0)
        f.decide(raised(alarm("A1")), T0)
        assert f.decide(raised(alarm("A2")), T0) is Decision.FIRST


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake() -> FakeNotifier:
    return FakeNotifier()


@pytest.fixture
def dispatcher(fake: FakeNotifier, clock: Clock) -> Iterator[Dispatcher]:
    d = Dispatcher([fake], settings(), clock)
    d.start()
    yield d
    d.stop(timeout_s=2)


class TestDispatcher:
    def test_sends_in_order_and_reports_decisions(
        self, dispatcher: Dispatcher, fake: FakeNotifier, clock: Clock
    ) -> None:
        """submit returns each decision; only sendable events reach the notifier, in order."""
        a1, a2 = alarm("A1"), alarm("A2")
        events = [raised(a1), raised(a2), cleared(a1, T0 + S), cleared(a2, T0 + S)]
        decisions = dispatcher.submit(events)
        assert decisions == [
            Decision.FIRST,
            Decision.FLAP_SUPPRESSED,
            Decision.FOLLOW_UP,
            Decision.FOLLOWS_SUPPRESSED,
        ]
        assert dispatcher.flush(5)
        assert [(e.alarm.id, e.transition) for e in fake.sent] == [
            ("A1", Transition.RAISED),
            ("A1", Transition.CLEARED),
        ]
        assert dispatcher.stats()["fake"].delivered == 2

    def test_uses_the_clock_for_the_window(
        self, dispatcher: Dispatcher, fake: FakeNotifier, clock: Clock
    ) -> None:
        """A raise after flap_suppress_s of clock time is sent again."""
        dispatcher.submit([raised(alarm("A1"))])
        clock.now_ns += 301 * S
        assert dispatcher.submit([raised(alarm("A2"))]) == [Decision.FIRST]
        assert dispatcher.flush(5)
        assert len(fake.sent) == 2

    def test_failure_is_retried_until_it_succeeds(self, clock: Clock) -> None:
        """A notifier that fails twice is retried and the event delivered once."""
        flaky = FakeNotifier(failures=2, retries=3)
        d = Dispatcher([flaky], settings(), clock)
        d.start()
        d.submit([raised(alarm("A1"))])
        assert d.flush(5)
        d.stop(1)
        assert flaky.attempts == 3
        assert [e.alarm.id for e in flaky.sent] == ["A1"]
        assert d.stats()["fake"] == type(d.stats()["fake"])(delivered=1, failed=0, queued=0)

    def test_gives_up_after_the_retries(
        self, clock: Clock, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A notifier failing past its retries is given up on, logging channel and reason."""
        dead = FakeNotifier(name="webhook http://h/x", failures=100, retries=2)
        d = Dispatcher([dead], settings(), clock)
        d.start()
        d.submit([raised(alarm("A1"))])
        assert d.flush(5)
        d.stop(1)
        assert dead.attempts == 3
        assert d.stats()["webhook http://h/x"].failed == 1
        assert (
            "webhook http://h/x gave up on alarm A1 raised after 3 attempt(s): refused attempt 3"
            in caplog.text
        )

    def test_a_slow_channel_does_not_delay_another(self, clock: Clock) -> None:
        """Each notifier has its own worker: one blocked channel leaves the other delivering."""
        slow, quick = FakeNotifier("slow"), FakeNotifier("quick")
        slow.gate.clear()
        d = Dispatcher([slow, quick], settings(), clock)
        d.start()
        d.submit([raised(alarm("A1"))])
        deadline = threading.Event()
        for _ in range(500):
            if quick.sent:
                break
            deadline.wait(0.01)
        assert [e.alarm.id for e in quick.sent] == ["A1"]
        assert slow.sent == []
        slow.gate.set()
        assert d.flush(5)
        d.stop(1)
        assert [e.alarm.id for e in slow.sent] == ["A1"]

    def test_crashing_notifier_keeps_its_worker(self, clock: Clock) -> None:
        """An unexpected exception in a notifier is retried like a failure; the worker survives."""

        class Crashy(FakeNotifier):
            def send(self, event: AlarmEvent) -> None:
                self.attempts += 1
                if self.attempts == 1:
                    raise RuntimeError("bug")
                self.sent.append(event)

        crashy = Crashy(retries=1)
        d = Dispatcher([crashy], settings(), clock)
        d.start()
        d.submit([raised(alarm("A1"))])
        d.submit([raised(alarm("B1", room="BG-B"))])
        assert d.flush(5)
        d.stop(1)
        assert [e.alarm.id for e in crashy.sent] == ["A1", "B1"]

    def test_stop_gives_up_on_a_stuck_channel_within_the_timeout(
        self, clock: Clock, caplog: pytest.LogCaptureFixture
    ) -> None:
        """stop returns within its budget even when a channel keeps failing with long backoff."""
        dead = FakeNotifier(name="dead", failures=100, retries=10)
        d = Dispatcher([dead], settings(retry_initial_s=30, retry_max_s=60), clock)
        d.start()
        d.submit([raised(alarm("A1")), raised(alarm("B1", room="BG-B"))])
        stopped = threading.Event()
        t = threading.Thread(target=lambda: (d.stop(0.3), stopped.set()))
        t.start()
        assert stopped.wait(5)
        assert dead.attempts == 1
        assert d.stats()["dead"].failed == 2

    def test_stop_without_start_is_harmless(self, clock: Clock) -> None:
        """Stopping a dispatcher that never started returns at once."""
        Dispatcher([FakeNotifier()], settings(), clock).stop(1)
