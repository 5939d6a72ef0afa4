"""The store's queue of submitted points, in submit order, with when each submit came.

Times are kept per submit, not per point: the points of one socket read
arrive together, and wrapping each with the same time cost the network
thread an object per reading. The writer needs only the oldest point's time
(a batch is due one flush interval after its first point).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Generic, NamedTuple, TypeVar

Item = TypeVar("Item")


class _Arrival(NamedTuple):
    upto: int
    """How many points had been queued with this submit (a running count)."""
    at: float


class SubmitQueue(Generic[Item]):
    """FIFO of items; ``oldest_at`` is when the first item still queued was submitted.

    Not thread-safe: the caller holds its lock.
    """

    __slots__ = ("_arrivals", "_items", "_queued", "_taken")

    def __init__(self) -> None:
        self._items: deque[Item] = deque()
        self._arrivals: deque[_Arrival] = deque()
        self._queued = 0
        self._taken = 0

    def __len__(self) -> int:
        return len(self._items)

    def submit(self, items: Sequence[Item], at: float) -> None:
        """Queue ``items`` (one submit) at time ``at``; an empty submit is nothing."""
        if not items:
            return
        self._items.extend(items)
        self._queued += len(items)
        self._arrivals.append(_Arrival(self._queued, at))

    @property
    def oldest_at(self) -> float:
        """When the first queued item was submitted; raises ``IndexError`` when empty."""
        if not self._items:
            raise IndexError("oldest_at of an empty SubmitQueue")
        return self._arrivals[0].at

    def take(self, n: int) -> list[Item]:
        """The first ``n`` items (fewer if fewer are queued), removed."""
        items = self._items
        out = [items.popleft() for _ in range(min(n, len(items)))]
        self._taken += len(out)
        arrivals = self._arrivals
        while arrivals and arrivals[0].upto <= self._taken:
            arrivals.popleft()
        return out
