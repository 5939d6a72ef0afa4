"""envmon.runtime.heap: long-lived objects leave the collector's full passes; newer ones stay."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from envmon.runtime.heap import YOUNG_THRESHOLD, freeze_long_lived


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector can free it


def test_frozen_objects_are_out_of_full_collections() -> None:
    """After freezing, a full collection walks only what was made since."""
    long_lived = [[i] for i in range(50_000)]
    frozen, took_s = freeze_long_lived()
    assert frozen >= len(long_lived)
    assert took_s >= 0
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    assert not any(o is long_lived for o in gc.get_objects())  # the collector's view


def test_newer_cycles_are_still_collected() -> None:
    """Garbage made after the freeze is found as before."""
    freeze_long_lived()
    node = _Node()
    del node
    assert gc.collect() >= 1


def test_refreezing_collects_the_garbage_of_frozen_objects() -> None:
    """A reload frees the old facility's cycles: unfreeze, collect, freeze again."""
    nodes = [_Node() for _ in range(5_000)]
    freeze_long_lived()
    del nodes
    gc.collect()
    before = gc.get_freeze_count()  # the cycles are frozen: no pass frees them
    freeze_long_lived()
    assert gc.get_freeze_count() <= before - 5_000
