"""Test support that ships with the package: a cheap argon2id profile.

The default profile costs about a tenth of a second per hash by design; unit
tests that create and sign as dozens of users use ``cheap_hashes()``. Never
use it outside tests: a cheap hash is a weak one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher

from envmon.signing import passwords

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
"""For tests only: 8 KiB, one pass."""


@contextmanager
def cheap_hashes() -> Iterator[None]:
    """Hash (and verify dummies) with ``CHEAP`` inside the block."""
    previous = passwords._set_hasher(CHEAP)
    try:
        yield
    finally:
        passwords._set_hasher(previous)
