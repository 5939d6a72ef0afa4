"""Waiting for something to happen: poll with a deadline, never a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T], timeout_s: float = 30.0, what: str = "", poll_s: float = 0.05
) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that.

    Raises ``AssertionError`` naming ``what`` and the last value after ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout_s:g} s waiting for {what}; last: {last!r}"
            )
        time.sleep(poll_s)


def wait_until(
    cond: Callable[[], object], timeout_s: float = 10.0, what: str = "condition"
) -> None:
    """``wait_for`` for a condition whose value does not matter."""
    wait_for(cond, timeout_s, what, poll_s=0.005 if timeout_s <= 10 else 0.05)
