"""The store's submit queue: items in order, and when the oldest one still queued came."""

from __future__ import annotations

import pytest

from envmon.store.submit_queue import SubmitQueue


class TestSubmitQueue:
    def test_items_come_out_in_submit_order(self) -> None:
        """Takes across submits keep the order the items were submitted in."""
        q: SubmitQueue[int] = SubmitQueue()
        q.submit([1, 2, 3], at=1.0)
        q.submit([4], at=2.0)
        q.submit([5, 6], at=3.0)
        assert q.take(2) == [1, 2]
        assert q.take(3) == [3, 4, 5]
        assert q.take(10) == [6]
        assert len(q) == 0

    def test_oldest_at_is_the_submit_of_the_first_item_left(self) -> None:
        """After a take that splits a submit, the rest of it keeps that submit's time."""
        q: SubmitQueue[str] = SubmitQueue()
        q.submit(["a", "b", "c"], at=1.0)
        q.submit(["d", "e"], at=2.0)
        assert q.oldest_at == 1.0
        q.take(2)
        assert q.oldest_at == 1.0  # "c" came with the first submit
        q.take(1)
        assert q.oldest_at == 2.0
        q.take(1)
        assert q.oldest_at == 2.0
        q.submit(["f"], at=5.0)
        q.take(1)
        assert q.oldest_at == 5.0

    def test_every_split_against_per_item_times(self) -> None:
        """For any sizes of submits and takes, the same answer as keeping a time per item."""
        sizes = [3, 1, 4, 1, 5, 9, 2, 6]
        for take_n in range(1, 12):
            q: SubmitQueue[int] = SubmitQueue()
            per_item: list[tuple[int, float]] = []
            n = 0
            for i, size in enumerate(sizes):
                items = list(range(n, n + size))
                n += size
                q.submit(items, at=float(i))
                per_item += [(item, float(i)) for item in items]
            while per_item:
                assert q.oldest_at == per_item[0][1]
                assert q.take(take_n) == [item for item, _ in per_item[:take_n]]
                per_item = per_item[take_n:]
            assert len(q) == 0

    def test_an_empty_submit_is_nothing(self) -> None:
        """Submitting no items queues nothing and records no time."""
        q: SubmitQueue[int] = SubmitQueue()
        q.submit([], at=1.0)
        q.submit([7], at=2.0)
        assert q.oldest_at == 2.0

    def test_oldest_at_of_an_empty_queue_raises(self) -> None:
        """There is no oldest time without an item."""
        q: SubmitQueue[int] = SubmitQueue()
        with pytest.raises(IndexError):
            _ = q.oldest_at
        q.submit([1], at=1.0)
        q.take(1)
        with pytest.raises(IndexError):
            _ = q.oldest_at
