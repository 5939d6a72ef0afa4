"""ClockDriftMonitor: per-sensor clock offset over receive-time windows, rate-limited."""

from __future__ import annotations

import json

from envmon.ingest.drift import ClockDriftMonitor, warnings_topic
from envmon.readings import NS_PER_S, Kind, Reading

T0 = 1_795_550_000 * NS_PER_S


def reading(received_s: float, offset_s: float, sensor: str = "TH1") -> Reading:
    received = T0 + int(received_s * NS_PER_S)
    return Reading(
        ts_ns=received + int(offset_s * NS_PER_S),
        site="site1",
        room="R1",
        grade="B",
        sensor=sensor,
        kind=Kind.CLIMATE,
        values={"temperature": 20.0},
        received_ns=received,
    )


def feed(monitor: ClockDriftMonitor, samples: list[tuple[float, float]], sensor: str = "TH1"):
    return [w for r, o in samples if (w := monitor.observe(reading(r, o, sensor))) is not None]


class TestClockDriftMonitor:
    def test_clock_ahead_warns_once_the_window_closes(self) -> None:
        """A sensor 45 s ahead (limit 30 s) warns at the first reading after a 60 s window."""
        m = ClockDriftMonitor(warn_s=30, window_s=60, warn_every_s=3600)
        warnings = feed(m, [(t, 45.0) for t in range(0, 70, 10)])
        assert len(warnings) == 1
        assert round(warnings[0].offset_s) == 45
        assert "ahead of" in warnings[0].detail and "TH1" in warnings[0].detail

    def test_clock_behind_warns_with_negative_offset(self) -> None:
        """A sensor 120 s behind on every reading is reported behind by about 120 s."""
        m = ClockDriftMonitor(warn_s=30, window_s=60, warn_every_s=3600)
        (warning,) = feed(m, [(t, -120.0) for t in range(0, 70, 10)])
        assert round(warning.offset_s) == -120
        assert "behind" in warning.detail

    def test_drained_backlog_is_not_drift(self) -> None:
        """Readings delayed 600 s then live ones in the same window: no warning."""
        m = ClockDriftMonitor(warn_s=30, window_s=60, warn_every_s=3600)
        backlog = [(t / 10, -600.0 + t / 10) for t in range(20)]
        live = [(t, -0.2) for t in range(5, 200, 5)]
        assert feed(m, backlog + live) == []

    def test_within_limit_never_warns(self) -> None:
        """Offsets up to the limit (both ways) stay silent."""
        m = ClockDriftMonitor(warn_s=30, window_s=60, warn_every_s=3600)
        assert feed(m, [(t, 30.0 if t % 20 else -29.0) for t in range(0, 600, 10)]) == []

    def test_rate_limited_per_sensor(self) -> None:
        """Two hours of 45 s drift warn twice (every 3600 s); another sensor on its own."""
        m = ClockDriftMonitor(warn_s=30, window_s=60, warn_every_s=3600)
        samples = [(t, 45.0) for t in range(0, 7200, 30)]
        assert len(feed(m, samples, "A")) == 2
        assert len(feed(m, samples[:5], "B")) == 1

    def test_zero_turns_it_off_and_missing_receive_time_is_ignored(self) -> None:
        """warn_s = 0 never warns; a reading without received_ns is not judged."""
        off = ClockDriftMonitor(warn_s=0, window_s=60, warn_every_s=3600)
        assert feed(off, [(t, 1e5) for t in range(0, 600, 10)]) == []
        m = ClockDriftMonitor(warn_s=30, window_s=60, warn_every_s=3600)
        r = reading(0, 500.0)
        unreceived = r._replace(received_ns=0)
        assert all(m.observe(unreceived) is None for _ in range(3))

    def test_payload_and_topic(self) -> None:
        """The warning is JSON with sensor, room, offset, limit, on .../envmon/warnings."""
        m = ClockDriftMonitor(warn_s=30, window_s=60, warn_every_s=3600)
        (warning,) = feed(m, [(t, 45.0) for t in range(0, 70, 10)])
        body = json.loads(warning.payload())
        assert body["warning"] == "clock_drift"
        assert (body["sensor"], body["room"], body["limit_s"]) == ("TH1", "R1", 30)
        assert round(body["offset_s"]) == 45
        assert warnings_topic("fac", "site1") == "fac/site1/envmon/warnings"
