"""Rolling-window concentration: total counts over total sampled volume."""

from __future__ import annotations

import pytest

from envmon.alarms.window import RollingWindow
from envmon.readings import NS_PER_S

ONE_COUNT_IN_28_3_L = 1000 / 28.3  # 35.3 per m³: above the Grade A ≥5.0 µm limit of 29
MINUTE = 60 * NS_PER_S
TEN_MIN = 10 * MINUTE


def window_of(values: list[float], volume_l: float | None = 28.3) -> tuple[RollingWindow, int]:
    w = RollingWindow()
    ts = 0
    for i, v in enumerate(values):
        ts = (i + 1) * MINUTE
        w.add(ts, v, volume_l, TEN_MIN)
    return w, ts


class TestRollingWindow:
    def test_single_count_in_ten_minutes_is_below_grade_a(self) -> None:
        """One ≥5.0 µm count in ten 28.3 L samples is 3.5/m³, far below 29."""
        w, now = window_of([ONE_COUNT_IN_28_3_L] + [0.0] * 9)
        assert w.concentration(now, TEN_MIN) == pytest.approx(1000 / 283)

    def test_nine_counts_in_ten_minutes_exceed_grade_a(self) -> None:
        """Nine counts in 283 L are 31.8/m³, above 29."""
        w, now = window_of([ONE_COUNT_IN_28_3_L] * 9 + [0.0])
        assert w.concentration(now, TEN_MIN) == pytest.approx(9000 / 283)
        assert w.concentration(now, TEN_MIN) > 29

    def test_window_is_half_open(self) -> None:
        """A reading exactly window_s old is out; newer ones are in."""
        w = RollingWindow()
        w.add(0, 1000.0, 10.0, TEN_MIN)
        w.add(TEN_MIN, 0.0, 10.0, TEN_MIN)
        assert w.concentration(TEN_MIN, TEN_MIN) == 0.0
        assert len(w.entries) == 1

    def test_weighted_by_volume(self) -> None:
        """A large sample weighs more than a small one."""
        w = RollingWindow()
        w.add(1, 100.0, 90.0, TEN_MIN)
        w.add(2, 0.0, 10.0, TEN_MIN)
        assert w.concentration(2, TEN_MIN) == pytest.approx(90.0)

    def test_falls_back_to_mean_without_volume(self) -> None:
        """Without a sampled volume the window's plain mean is judged."""
        w, now = window_of([30.0, 10.0], volume_l=None)
        assert w.concentration(now, TEN_MIN) == pytest.approx(20.0)

    def test_shorter_window_than_kept(self) -> None:
        """A shorter window in force uses only its own span of what is kept."""
        w, now = window_of([100.0, 0.0, 0.0])
        assert w.concentration(now, 2 * MINUTE) == 0.0
        assert w.concentration(now, TEN_MIN) == pytest.approx(100 / 3)

    def test_forgets_beyond_keep(self) -> None:
        """Readings older than the longest window are dropped."""
        w, _ = window_of([1.0] * 30)
        assert len(w.entries) == 10
