"""InfluxHealth on a stepped clock: outage, probe backoff, recovery, and its two log lines."""

from __future__ import annotations

import logging

import pytest

from envmon.store.influx_health import InfluxHealth
from tests.support.clock import FakeClock

LOGGER = "test.influx_health"
T0 = 1000.0  # FakeClock's monotonic start


def make(clock: FakeClock, retry_min_s: float = 1.0, retry_max_s: float = 8.0) -> InfluxHealth:
    return InfluxHealth(
        "fake InfluxDB", retry_min_s, retry_max_s, clock.monotonic, logging.getLogger(LOGGER)
    )


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


class TestInfluxHealth:
    def test_starts_healthy_with_no_probe_due(self) -> None:
        """A new health is healthy, with the minimum backoff and no probe scheduled."""
        h = make(FakeClock())
        assert h.healthy
        assert h.backoff_s == 1.0
        assert h.probe_at == 0.0

    def test_first_probe_is_retry_min_after_the_outage(self) -> None:
        """Marking unhealthy schedules the first probe retry_min_s after now."""
        clock = FakeClock()
        h = make(clock)
        clock.advance(5.0)
        h.mark_unhealthy("connection refused")
        assert not h.healthy
        assert h.backoff_s == 1.0
        assert h.probe_at == T0 + 5.0 + 1.0

    def test_failed_probes_double_the_backoff_up_to_retry_max(self) -> None:
        """Each failed probe doubles the wait (1, 2, 4, 8, 8 s) and counts it from now."""
        clock = FakeClock()
        h = make(clock, retry_min_s=1.0, retry_max_s=8.0)
        h.mark_unhealthy("connection refused")
        for expected in (2.0, 4.0, 8.0, 8.0):
            clock.advance(h.probe_at - clock.monotonic())
            now = clock.monotonic()
            h.schedule_probe(failed=True)
            assert h.backoff_s == expected
            assert h.probe_at == now + expected

    def test_backoff_cap_is_not_a_power_of_two_of_retry_min(self) -> None:
        """Doubling stops exactly at retry_max_s when it is not reached by doubling."""
        clock = FakeClock()
        h = make(clock, retry_min_s=1.0, retry_max_s=5.0)
        h.mark_unhealthy("connection refused")
        backoffs = []
        for _ in range(4):
            h.schedule_probe(failed=True)
            backoffs.append(h.backoff_s)
        assert backoffs == [2.0, 4.0, 5.0, 5.0]

    def test_unfailed_schedule_keeps_the_backoff(self) -> None:
        """schedule_probe(failed=False) reschedules one current backoff from now, not doubled."""
        clock = FakeClock()
        h = make(clock)
        h.mark_unhealthy("connection refused")
        h.schedule_probe(failed=True)
        clock.advance(3.0)
        h.schedule_probe(failed=False)
        assert h.backoff_s == 2.0
        assert h.probe_at == T0 + 3.0 + 2.0

    def test_recovery_resets_the_backoff_to_retry_min(self) -> None:
        """Healthy again resets the backoff: the next outage's first probe is retry_min_s away."""
        clock = FakeClock()
        h = make(clock)
        h.mark_unhealthy("connection refused")
        for _ in range(3):
            h.schedule_probe(failed=True)
        assert h.backoff_s == 8.0
        h.mark_healthy(spooled_lines=0)
        assert h.healthy
        assert h.backoff_s == 1.0
        clock.advance(100.0)
        h.mark_unhealthy("HTTP 503")
        assert h.probe_at == T0 + 100.0 + 1.0

    def test_second_unhealthy_mark_changes_nothing(self) -> None:
        """While already unhealthy, another retry outcome neither resets nor reschedules."""
        clock = FakeClock()
        h = make(clock)
        h.mark_unhealthy("connection refused")
        h.schedule_probe(failed=True)
        clock.advance(1.5)
        h.mark_unhealthy("connection refused")
        assert h.backoff_s == 2.0
        assert h.probe_at == T0 + 2.0

    def test_retry_max_below_retry_min_is_raised_to_it(self) -> None:
        """A retry_max_s below retry_min_s acts as retry_min_s: the backoff never grows."""
        clock = FakeClock()
        h = make(clock, retry_min_s=3.0, retry_max_s=1.0)
        h.mark_unhealthy("connection refused")
        h.schedule_probe(failed=True)
        assert h.backoff_s == 3.0
        assert h.probe_at == T0 + 3.0

    def test_logs_each_change_once_on_the_logger_handed_in(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """One WARNING as InfluxDB stops answering, one as it answers again, none for repeats."""
        caplog.set_level(logging.DEBUG, logger=LOGGER)
        h = make(FakeClock())
        h.mark_healthy(spooled_lines=7)
        h.mark_unhealthy("connection refused")
        h.mark_unhealthy("HTTP 503")
        h.mark_healthy(spooled_lines=1234)
        h.mark_healthy(spooled_lines=0)
        assert messages(caplog) == [
            "fake InfluxDB: connection refused; spooling readings until it answers",
            "fake InfluxDB answers again; 1234 spooled lines to replay",
        ]
        assert all(r.levelno == logging.WARNING for r in caplog.records if r.name == LOGGER)
