"""Server-side sessions: revocable, expiring when idle, each with its CSRF token.

The browser holds only a random session id; who is signed in, the role and the
CSRF token stay in this process. So signing out, disabling a user, or
restarting the console ends a session at once, and no cookie can be forged or
replayed after it ended. Only a hash of each id is kept, so the table itself
holds nothing a browser could present.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

# A shift is at most this long; a session older than this ends even when busy.
MAX_SESSION_S: Final = 12 * 3600.0
# Sessions of visitors who have not signed in (they hold the sign-in form's
# CSRF token): bounded, oldest dropped first, so a flood cannot fill memory.
MAX_ANONYMOUS: Final = 2000


@dataclass(frozen=True, slots=True)
class Session:
    """One browser's session; ``user`` is None until its holder signs in."""

    csrf: str
    created_s: float
    last_seen_s: float
    user: str | None = None
    full_name: str = ""
    role: str = ""
    client: str = ""

    @property
    def signed_in(self) -> bool:
        return self.user is not None


@dataclass(frozen=True, slots=True)
class Flash:
    """A message for the next page its session sees (the result of a signature).

    ``kind`` is how it reads: ``applied``, ``pending`` or ``refused``."""

    kind: str
    text: str


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """Sessions by id; ``clock`` gives monotonic seconds. Thread-safe."""

    def __init__(self, idle_s: float, clock: Callable[[], float]) -> None:
        self.idle_s = idle_s
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._flashes: dict[str, Flash] = {}

    def start(self) -> tuple[str, Session]:
        """A new anonymous session: its id (for the cookie) and the session."""
        now = self._clock()
        session_id = secrets.token_urlsafe(32)
        session = Session(csrf=secrets.token_urlsafe(32), created_s=now, last_seen_s=now)
        with self._lock:
            self._drop_expired(now)
            anonymous = [k for k, s in self._sessions.items() if not s.signed_in]
            for key in anonymous[: max(0, len(anonymous) - MAX_ANONYMOUS + 1)]:
                del self._sessions[key]
                self._flashes.pop(key, None)
            self._sessions[_key(session_id)] = session
        return session_id, session

    def sign_in(
        self, old_id: str | None, user: str, full_name: str, role: str, client: str
    ) -> tuple[str, Session]:
        """A fresh session for ``user``; the one used to sign in ends (no fixation)."""
        if old_id is not None:
            self.end(old_id)
        session_id, anonymous = self.start()
        session = replace(anonymous, user=user, full_name=full_name, role=role, client=client)
        with self._lock:
            self._sessions[_key(session_id)] = session
        return session_id, session

    def get(self, session_id: str | None, touch: bool = True) -> Session | None:
        """The live session for this id, or None (unknown, ended or expired).

        ``touch`` counts the request as its user's activity; live updates the
        page fetches by itself pass False, so an unattended screen still expires.
        """
        if not session_id:
            return None
        now = self._clock()
        key = _key(session_id)
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[key]
                self._flashes.pop(key, None)
                return None
            if touch:
                session = replace(session, last_seen_s=now)
                self._sessions[key] = session
            return session

    def update_role(self, session_id: str, full_name: str, role: str) -> None:
        """Keep the session's role in step with the user's record."""
        with self._lock:
            key = _key(session_id)
            session = self._sessions.get(key)
            if session is not None:
                self._sessions[key] = replace(session, full_name=full_name, role=role)

    def flash(self, session_id: str, flash: Flash) -> None:
        with self._lock:
            key = _key(session_id)
            if key in self._sessions:
                self._flashes[key] = flash

    def take_flash(self, session_id: str) -> Flash | None:
        with self._lock:
            return self._flashes.pop(_key(session_id), None)

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(_key(session_id), None)
            self._flashes.pop(_key(session_id), None)

    def end_user(self, user: str) -> int:
        """End every session of ``user`` (disabled, locked out); returns how many."""
        with self._lock:
            keys = [k for k, s in self._sessions.items() if s.user == user]
            for key in keys:
                del self._sessions[key]
                self._flashes.pop(key, None)
        return len(keys)

    def count(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.last_seen_s > self.idle_s or now - session.created_s > MAX_SESSION_S

    def _drop_expired(self, now: float) -> None:
        for key in [k for k, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[key]
            self._flashes.pop(key, None)
