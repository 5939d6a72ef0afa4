"""The console over HTTP, in process: sessions, cookies, CSRF, roles, headers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from envmon.console.app import build_console, create_app
from envmon.console.context import Console
from envmon.console.gate import Act
from tests.support.console import (
    PASSWORD,
    FakeGate,
    console_settings,
    csrf_of,
    seed_journal,
    sign_in,
)
from tests.support.journal_samples import alarm, raised


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def gate() -> FakeGate:
    return FakeGate()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def console(tmp_path: Path, gate: FakeGate, clock: Clock) -> Iterator[Console]:
    settings = console_settings(tmp_path, "[console]\nsession_idle_s = 60\n")
    seed_journal(settings, [raised(alarm("A1")), raised(alarm("A2", room="BG-B"))])
    built = build_console(settings, gate, tls=False, monotonic=clock, poll_interval_s=0.05)
    yield built
    built.close()


@pytest.fixture
def client(console: Console) -> Iterator[TestClient]:
    with TestClient(create_app(console), follow_redirects=False) as c:
        yield c


class TestSignIn:
    def test_pages_need_a_signed_in_user(self, client: TestClient) -> None:
        """Every page sends a visitor without a session to the sign-in page."""
        for path in ("/alarms", "/alarms/A1", "/sensors", "/rooms", "/audit", "/reports"):
            response = client.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/signin"), path

    def test_sign_in_gives_a_new_session_id(self, client: TestClient) -> None:
        """The id that carried the sign-in form is worth nothing after sign-in."""
        client.get("/signin")
        before = client.cookies["envmon"]
        sign_in(client, "olga")
        after = client.cookies["envmon"]
        assert after != before
        client.cookies.clear()
        client.cookies.set("envmon", before)
        assert client.get("/alarms").status_code == 303

    def test_wrong_password_is_refused_and_counted(
        self, client: TestClient, gate: FakeGate
    ) -> None:
        """A wrong password shows one line, and the signing path records the failure."""
        page = client.get("/signin")
        response = client.post(
            "/signin", data={"user": "olga", "password": "nope", "csrf": csrf_of(page.text)}
        )
        assert response.status_code == 403
        assert "user name or password is wrong" in response.text
        assert gate.failures == [("olga", "console testclient")]
        assert client.get("/alarms").status_code == 303

    def test_sign_out_ends_the_session(self, client: TestClient) -> None:
        """After sign-out the old cookie opens nothing, even if the browser kept it."""
        sign_in(client, "olga")
        cookie = client.cookies["envmon"]
        page = client.get("/alarms")
        response = client.post("/signout", data={"csrf": csrf_of(page.text)})
        assert response.status_code == 303
        client.cookies.clear()
        client.cookies.set("envmon", cookie)
        assert client.get("/alarms").status_code == 303

    def test_idle_session_expires(self, client: TestClient, clock: Clock) -> None:
        """No request for longer than session_idle_s ends the session."""
        sign_in(client, "olga")
        clock.now += 59
        assert client.get("/alarms").status_code == 200
        clock.now += 61
        response = client.get("/alarms")
        assert response.status_code == 303
        assert response.headers["location"] == "/signin?expired=1"

    def test_live_updates_do_not_keep_a_session_alive(
        self, client: TestClient, clock: Clock
    ) -> None:
        """Fetches the page makes by itself do not count as activity."""
        sign_in(client, "olga")
        for _ in range(3):
            clock.now += 30
            client.get("/alarms/rows", headers={"X-Envmon-Live": "1"})
        assert client.get("/session").status_code == 401

    def test_disabling_a_user_ends_their_sessions(self, client: TestClient, gate: FakeGate) -> None:
        """A user disabled after signing in is signed out at the next request."""
        sign_in(client, "olga")
        gate.disabled.add("olga")
        response = client.get("/alarms")
        assert response.headers["location"] == "/signin?revoked=1"
        gate.disabled.clear()
        assert client.get("/alarms").status_code == 303


class TestCookiesAndHeaders:
    def test_session_cookie_is_httponly_and_samesite_strict(self, client: TestClient) -> None:
        """The cookie cannot be read by script nor sent by another site; not Secure on HTTP."""
        cookie = client.get("/signin").headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert "Path=/" in cookie
        assert "Secure" not in cookie

    def test_under_https_the_cookie_is_secure_and_host_bound(self, console: Console) -> None:
        """With TLS the cookie is Secure and carries the __Host- prefix; HSTS is sent."""
        console.tls = True
        app = create_app(console)
        with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
            response = c.get("/signin")
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("__Host-envmon=")
        assert "Secure" in cookie
        assert "max-age" in response.headers["strict-transport-security"]

    def test_every_response_carries_the_security_headers(self, client: TestClient) -> None:
        """CSP without inline script, no framing, no referrer, nosniff, no caching."""
        for path in ("/signin", "/alarms", "/static/console.css"):
            headers = client.get(path).headers
            csp = headers["content-security-policy"]
            assert "script-src 'self'" in csp
            assert "unsafe-inline" not in csp
            assert "frame-ancestors 'none'" in csp
            assert headers["referrer-policy"] == "no-referrer"
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["x-frame-options"] == "DENY"
        assert client.get("/signin").headers["cache-control"] == "no-store"

    def test_pages_have_no_inline_script(self, client: TestClient) -> None:
        """Scripts load only from /static, so the CSP holds."""
        sign_in(client, "erik")
        for path in ("/signin", "/alarms", "/alarms/A1", "/sensors", "/rooms", "/audit"):
            text = client.get(path).text
            assert "<script>" not in text and " on" + "click=" not in text, path

    def test_no_password_reaches_a_page(self, client: TestClient) -> None:
        """A refused sign-in does not echo the password back."""
        page = client.get("/signin")
        response = client.post(
            "/signin",
            data={"user": "olga", "password": "s3cret-typo", "csrf": csrf_of(page.text)},
        )
        assert "s3cret-typo" not in response.text


class TestCsrf:
    def test_post_without_token_is_refused(self, client: TestClient, gate: FakeGate) -> None:
        """A state-changing request without the session's token changes nothing."""
        sign_in(client, "erik")
        data = {"meaning": "acknowledged", "comment": "x", "password": PASSWORD}
        response = client.post("/sign/ack/A1", data=data)
        assert response.status_code == 403
        assert "CSRF" in response.text
        assert gate.signed == []

    def test_post_with_another_sessions_token_is_refused(
        self, client: TestClient, console: Console, gate: FakeGate
    ) -> None:
        """A token is bound to its session."""
        sign_in(client, "erik")
        _, other = console.sessions.start()
        data = {"meaning": "acknowledged", "comment": "x", "password": PASSWORD, "csrf": other.csrf}
        assert client.post("/sign/ack/A1", data=data).status_code == 403
        assert gate.signed == []

    def test_cross_site_post_is_refused(self, client: TestClient, gate: FakeGate) -> None:
        """Sec-Fetch-Site cross-site or a foreign Origin is refused even with a token."""
        sign_in(client, "erik")
        token = csrf_of(client.get("/alarms").text)
        data = {"meaning": "acknowledged", "comment": "x", "password": PASSWORD, "csrf": token}
        for headers in ({"sec-fetch-site": "cross-site"}, {"origin": "http://evil.example"}):
            assert client.post("/sign/ack/A1", data=data, headers=headers).status_code == 403
        assert gate.signed == []

    def test_sign_out_needs_the_token(self, client: TestClient) -> None:
        """Even signing out is a POST with the token (no forced sign-out by another site)."""
        sign_in(client, "olga")
        assert client.post("/signout").status_code == 403
        assert client.get("/alarms").status_code == 200

    def test_every_post_route_is_behind_the_check(
        self, client: TestClient, console: Console
    ) -> None:
        """No route that accepts POST answers one without a token."""
        sign_in(client, "ada")
        app = create_app(console)
        posts = [r.path for r in app.routes if "POST" in (getattr(r, "methods", None) or ())]
        assert posts
        for path in posts:
            path = path.replace("{act}", "ack").replace("{target}", "A1")
            assert client.post(path, data={"x": "1"}).status_code == 403, path


class TestRoles:
    def test_operator_sees_no_shelve_control(self, client: TestClient) -> None:
        """An operator's alarm page offers acknowledge, not shelve."""
        sign_in(client, "olga")
        page = client.get("/alarms/A1").text
        assert "/sign/ack/A1" in page
        assert "/sign/shelve/A1" not in page

    def test_engineer_sees_shelve(self, client: TestClient) -> None:
        """An engineer's alarm page offers shelving."""
        sign_in(client, "erik")
        assert "/sign/shelve/A1" in client.get("/alarms/A1").text

    def test_forged_shelve_by_operator_is_refused(self, client: TestClient, gate: FakeGate) -> None:
        """A shelve POST from an operator, with a valid token, is refused before signing."""
        sign_in(client, "olga")
        token = csrf_of(client.get("/alarms/A1").text)
        data = {
            "meaning": "shelved",
            "comment": "forged",
            "password": PASSWORD,
            "duration": "900",
            "csrf": token,
        }
        response = client.post("/sign/shelve/A1", data=data)
        assert response.status_code == 403
        assert gate.signed == []
        assert client.get("/sign/shelve/A1").status_code == 403

    def test_reports_are_for_qa(self, client: TestClient) -> None:
        """Only QA sees the reports page."""
        sign_in(client, "erik")
        assert client.get("/reports").status_code == 403
        assert "/reports" not in client.get("/alarms").text

    def test_role_follows_the_users_record(self, client: TestClient, gate: FakeGate) -> None:
        """A role changed after sign-in applies at the next request."""
        sign_in(client, "erik")
        gate.users["erik"] = gate.users["erik"].__class__("erik", "Erik Example", "operator")
        assert "/sign/shelve/A1" not in client.get("/alarms/A1").text
        assert gate.may("operator", Act.SHELVE) is False


class TestSignatures:
    def test_acknowledge_signs_through_the_gate(self, client: TestClient, gate: FakeGate) -> None:
        """The form's meaning, comment and password go to the gate; the result is shown."""
        sign_in(client, "olga")
        token = csrf_of(client.get("/sign/ack/A1").text)
        data = {
            "meaning": "acknowledged",
            "comment": "door left open",
            "password": PASSWORD,
            "csrf": token,
        }
        response = client.post("/sign/ack/A1", data=data)
        assert response.status_code == 303
        assert response.headers["location"] == "/alarms/A1"
        [(user, request, where)] = gate.signed
        assert (user, request.act, request.target, request.comment) == (
            "olga",
            Act.ACK,
            "A1",
            "door left open",
        )
        assert where == "console testclient"
        assert "ack A1: applied" in client.get("/alarms/A1").text

    def test_wrong_password_shows_the_form_again(self, client: TestClient, gate: FakeGate) -> None:
        """A refused signature re-shows the form with the reason and the comment kept."""
        sign_in(client, "olga")
        token = csrf_of(client.get("/sign/ack/A1").text)
        data = {"meaning": "acknowledged", "comment": "kept", "password": "bad", "csrf": token}
        response = client.post("/sign/ack/A1", data=data)
        assert response.status_code == 403
        assert "password is wrong" in response.text
        assert ">kept</textarea>" in response.text
        assert 'value="bad"' not in response.text
        assert gate.signed == []

    def test_comment_is_required(self, client: TestClient, gate: FakeGate) -> None:
        """No comment, no signature."""
        sign_in(client, "olga")
        token = csrf_of(client.get("/sign/ack/A1").text)
        data = {"meaning": "acknowledged", "comment": " ", "password": PASSWORD, "csrf": token}
        assert client.post("/sign/ack/A1", data=data).status_code == 400
        assert gate.signed == []

    def test_shelve_longer_than_the_maximum_is_refused(
        self, client: TestClient, gate: FakeGate
    ) -> None:
        """Shelving beyond the maximum never reaches the signer."""
        sign_in(client, "erik")
        token = csrf_of(client.get("/sign/shelve/A1").text)
        data = {
            "meaning": "shelved",
            "comment": "maintenance",
            "password": PASSWORD,
            "duration": str(9 * 3600),
            "csrf": token,
        }
        assert client.post("/sign/shelve/A1", data=data).status_code == 400
        assert gate.signed == []

    def test_dialog_post_answers_with_the_next_location(
        self, client: TestClient, gate: FakeGate
    ) -> None:
        """The dialog's fetch gets 204 and where to go, not a redirect."""
        sign_in(client, "erik")
        token = csrf_of(client.get("/sign/room-state/FILL-A?fragment=1").text)
        data = {
            "meaning": "approved",
            "comment": "shift start",
            "password": PASSWORD,
            "state": "in_operation",
        }
        response = client.post(
            "/sign/room-state/FILL-A", data=data, headers={"X-CSRF-Token": token}
        )
        assert response.status_code == 204
        assert response.headers["x-envmon-location"] == "/rooms"
        assert gate.signed[0][1].state == "in_operation"

    def test_unknown_target_is_not_found(self, client: TestClient) -> None:
        """Signing about an alarm the journal does not have is a 404."""
        sign_in(client, "olga")
        assert client.get("/sign/ack/NOPE").status_code == 404


class TestPages:
    def test_alarm_list_shows_open_alarms_sorted(self, client: TestClient) -> None:
        """Both alarms are listed; sorting by room puts BG-B first."""
        sign_in(client, "olga")
        text = client.get("/alarms?sort=room").text
        assert text.index('data-alarm="A2"') < text.index('data-alarm="A1"')

    def test_alarm_detail_shows_transitions_and_excursion(self, client: TestClient) -> None:
        """The detail lists the raised transition and the excursion's peak."""
        sign_in(client, "olga")
        text = client.get("/alarms/A1").text
        assert "raised" in text
        assert "35.3" in text

    def test_sensors_rooms_and_audit_pages(self, client: TestClient) -> None:
        """The plant pages list the example facility; the audit trail lists entries."""
        sign_in(client, "erik")
        assert "PC-FILL-A-1" in client.get("/sensors").text
        assert "on INC-01" in client.get("/sensors").text
        rooms = client.get("/rooms").text
        assert "FILL-A" in rooms
        assert "INC-01, INC-02, LN2-01, FRZ-01, FRG-01, BSC-01" in rooms
        assert "6 on equipment" in rooms
        audit = client.get("/audit?kind=alarm.").text
        assert "alarm.raised" in audit
        assert client.get("/audit?from=garbage").status_code == 400

    def test_report_without_influxdb_says_so(self, client: TestClient) -> None:
        """InfluxDB unreachable: one clear line, no download."""
        sign_in(client, "quinn")
        token = csrf_of(client.get("/reports").text)
        data = {
            "from": "2026-11-18T00:00",
            "to": "2026-11-19T00:00",
            "format": "json",
            "csrf": token,
        }
        response = client.post("/reports", data=data)
        assert response.status_code == 503
        assert "InfluxDB" in response.text
        assert "content-disposition" not in response.headers
