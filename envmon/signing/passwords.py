"""Password hashes: argon2id with argon2-cffi's recommended profile.

Only the encoded hash (algorithm, parameters, salt, digest) is ever stored,
in the journal's ``credentials`` table; the audit trail holds a SHA-256 of
it (``credential_digest``), never the hash. ``envmon.signing.testing`` swaps
in a cheap profile for tests; nothing else may.
"""

from __future__ import annotations

import hashlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
_dummy_hash: str | None = None


def hash_password(password: str) -> str:
    """The argon2id encoded hash of ``password``, with a fresh random salt."""
    return _hasher.hash(password)


def verify_password(encoded: str, password: str) -> bool:
    """Whether ``password`` matches ``encoded`` (parameters are read from it)."""
    try:
        return bool(_hasher.verify(encoded, password))
    except (VerificationError, InvalidHashError):
        return False


def verify_nothing(password: str) -> bool:
    """Spend the time a real check takes, for a user name that does not exist,
    so that timing does not tell unknown names from wrong passwords."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("no such user: a dummy hash")
    verify_password(_dummy_hash, password)
    return False


def credential_digest(encoded: str) -> str:
    """What the audit trail records of a hash: enough to detect a swapped hash,
    nothing to attack the password with."""
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def _set_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Replace the profile (tests only, through ``envmon.signing.testing``)."""
    global _hasher, _dummy_hash
    previous, _hasher, _dummy_hash = _hasher, hasher, None
    return previous
