"""Server-side sessions: ids, sign-in, idle expiry, revocation, flashes."""

from __future__ import annotations

import pytest

from envmon.console.sessions import MAX_ANONYMOUS, MAX_SESSION_S, Flash, SessionStore


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> SessionStore:
    return SessionStore(idle_s=60, clock=clock)


class TestSessionStore:
    def test_new_session_is_anonymous_with_a_csrf_token(self, store: SessionStore) -> None:
        """A fresh session has nobody signed in and its own random token."""
        sid, session = store.start()
        _, other = store.start()
        assert not session.signed_in
        assert len(sid) >= 40 and len(session.csrf) >= 40
        assert session.csrf != other.csrf
        assert store.get(sid) == session

    def test_sign_in_ends_the_old_session(self, store: SessionStore) -> None:
        """Signing in issues a new id and the old one stops working."""
        old, _ = store.start()
        new, session = store.sign_in(old, "olga", "Olga E", "operator", "console 1.2.3.4")
        assert new != old
        assert store.get(old) is None
        assert session.user == "olga" and session.role == "operator"

    def test_idle_expiry(self, store: SessionStore, clock: Clock) -> None:
        """A session unused for longer than idle_s is gone; use keeps it alive."""
        sid, _ = store.sign_in(None, "olga", "", "operator", "")
        clock.now += 59
        assert store.get(sid) is not None
        clock.now += 59
        assert store.get(sid) is not None
        clock.now += 61
        assert store.get(sid) is None

    def test_untouched_reads_do_not_extend(self, store: SessionStore, clock: Clock) -> None:
        """get(touch=False) leaves the idle clock running."""
        sid, _ = store.sign_in(None, "olga", "", "operator", "")
        for _ in range(3):
            clock.now += 30
            store.get(sid, touch=False)
        assert store.get(sid) is None

    def test_absolute_lifetime(self, store: SessionStore, clock: Clock) -> None:
        """Even a busy session ends after MAX_SESSION_S."""
        sid, _ = store.sign_in(None, "olga", "", "operator", "")
        while clock.now < 100 + MAX_SESSION_S - 30:
            clock.now += 30
            assert store.get(sid) is not None
        clock.now += 60
        assert store.get(sid) is None

    def test_end_user_ends_all_their_sessions(self, store: SessionStore) -> None:
        """Disabling a user ends each of their sessions and no other."""
        a, _ = store.sign_in(None, "olga", "", "operator", "")
        b, _ = store.sign_in(None, "olga", "", "operator", "")
        c, _ = store.sign_in(None, "erik", "", "engineer", "")
        assert store.end_user("olga") == 2
        assert store.get(a) is None and store.get(b) is None
        assert store.get(c) is not None

    def test_unknown_ids(self, store: SessionStore) -> None:
        """Unknown, empty or None ids find nothing."""
        assert store.get(None) is None
        assert store.get("") is None
        assert store.get("made-up") is None

    def test_flash_is_read_once(self, store: SessionStore) -> None:
        """A flash shows on the next page only."""
        sid, _ = store.sign_in(None, "olga", "", "operator", "")
        store.flash(sid, Flash("applied", "done"))
        assert store.take_flash(sid) == Flash("applied", "done")
        assert store.take_flash(sid) is None

    def test_anonymous_sessions_are_bounded(self, store: SessionStore) -> None:
        """A flood of visitors cannot grow the table past MAX_ANONYMOUS; signed-in
        sessions are never dropped for it."""
        kept, _ = store.sign_in(None, "olga", "", "operator", "")
        first, _ = store.start()
        for _ in range(MAX_ANONYMOUS + 10):
            store.start()
        assert store.count() <= MAX_ANONYMOUS + 1
        assert store.get(first) is None
        assert store.get(kept) is not None

    def test_role_update(self, store: SessionStore) -> None:
        """The session follows a role change of its user."""
        sid, _ = store.sign_in(None, "erik", "Erik", "engineer", "")
        store.update_role(sid, "Erik E", "operator")
        session = store.get(sid)
        assert session is not None and session.role == "operator"
