"""The web console in a real browser, beside the real service.

Mosquitto, InfluxDB, ``envmon run`` and ``envmon console`` run as processes;
Playwright drives Debian's Chromium. Users are added with ``envmon user add``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from envmon.alarms.events import Level
from envmon.journal.journal import Journal
from envmon.journal.reader import JournalReader
from tests.support.browser import chromium
from tests.support.console_proc import ConsoleProcess, add_user, envmon_cli
from tests.support.facilities import particles
from tests.support.journal_samples import alarm, raised
from tests.support.mqtt_watch import TopicWatcher
from tests.support.servers import InfluxDB1, Mosquitto
from tests.support.service_proc import Publisher, ServiceProcess, write_settings
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration

PASSWORD = "Cleanroom-42"
ALARM_TOPIC = "fac/site1/envmon/alarms/FILL-A/particles_0_5um"
FACILITY = """
site = "site1"

[[rooms]]
id = "FILL-A"
name = "Aseptic filling"
grade = "A"

[[sensors]]
id = "PC1"
room = "FILL-A"
kind = "particles"
interval_s = 1
stale_after_s = 3600
"""


def sign_in(page: Page, base: str, user: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/signin")
    page.fill("input[name=user]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/alarms")


def post_from_page(page: Page, path: str, fields: dict[str, str]) -> int:
    """A POST made by script in the signed-in page (same origin, session cookie)."""
    status: int = page.evaluate(
        """async ([path, fields]) => {
            const resp = await fetch(path, {method: "POST", credentials: "same-origin",
                headers: {"Content-Type": "application/x-www-form-urlencoded"},
                body: new URLSearchParams(fields).toString(), redirect: "manual"});
            return resp.status;
        }""",
        [path, fields],
    )
    return status


@pytest.fixture
def plant(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB1) -> Iterator[Path]:
    """The service running over a one-room facility, with an operator and an engineer."""
    facility = tmp_path / "facility.toml"
    facility.write_text(FACILITY)
    config = write_settings(tmp_path / "svc", mosquitto, facility, influx=influxdb)
    service = ServiceProcess(config, tmp_path / "envmon.log")
    service.start()
    try:
        add_user(config, "olga", "operator", PASSWORD)
        add_user(config, "erik", "engineer", PASSWORD)
        add_user(config, "quinn", "qa", PASSWORD)
        yield config
    finally:
        service.ensure_stopped()


@pytest.fixture
def console(plant: Path, tmp_path: Path) -> Iterator[ConsoleProcess]:
    proc = ConsoleProcess(plant, tmp_path / "console.log")
    proc.start()
    yield proc
    assert proc.stop() == 0, proc.log()


def console_only(tmp_path: Path, facility: str, extra: str = "") -> Path:
    """Settings for a console without the service: its state and facility file."""
    (tmp_path / "facility.toml").write_text(facility)
    config = tmp_path / "envmon.toml"
    config.write_text(
        f'[storage]\nstate_dir = "{tmp_path / "state"}"\n'
        f'[facility]\nfile = "{tmp_path / "facility.toml"}"\n' + extra
    )
    return config


def journal_of(config: Path) -> Journal:
    return Journal(config.parent / "state" / "journal.sqlite", readonly=True)


class TestConsoleInABrowser:
    def test_live_alarm_signed_acknowledgement_and_refusals(
        self, plant: Path, console: ConsoleProcess, mosquitto: Mosquitto
    ) -> None:
        """An alarm from a published reading appears live; a wrong password changes
        nothing; the right one acknowledges, as the retained topic and the command
        line show; an operator can neither see nor forge a shelve; no CSRF token,
        no change."""
        base = console.url
        journal = journal_of(plant)
        reader = JournalReader(journal.path)
        watcher = TopicWatcher(mosquitto.port)
        publisher = Publisher(mosquitto.port)
        try:
            with chromium() as browser:
                page = browser.new_page()
                sign_in(page, base, "olga")
                assert "No open alarms" in page.content()
                page.evaluate("window.__sameDocument = true")

                publisher.publish_all([particles(time.time(), 50_000)])
                alarm = wait_for(lambda: next(iter(journal.open_alarms()), None), 20, "alarm")
                page.wait_for_selector(f'tr[data-alarm="{alarm.id}"]', timeout=10_000)
                seen_ns = time.time_ns()
                raised = reader.about(alarm.id)[0]
                assert raised.kind == "alarm.raised"
                assert (seen_ns - raised.ts_ns) / 1e9 < 2.0
                assert page.evaluate("window.__sameDocument") is True

                page.click(f'tr[data-alarm="{alarm.id}"] a:has-text("Details")')
                page.wait_for_url(f"{base}/alarms/{alarm.id}")
                assert page.locator("a:has-text('Shelve')").count() == 0

                page.click("a[data-dialog]:has-text('Acknowledge')")
                page.wait_for_selector("dialog[open] form")
                page.fill("dialog textarea[name=comment]", "burst during transfer")
                page.fill("dialog input[name=password]", "not-the-password")
                page.click("dialog button[type=submit]")
                page.wait_for_selector("dialog [role=alert]")
                assert "password is wrong" in page.inner_text("dialog [role=alert]")
                unchanged = journal.get_alarm(alarm.id)
                assert unchanged is not None
                assert unchanged.state.value == "active_unacked"
                assert unchanged.signatures == ()

                page.fill("dialog input[name=password]", PASSWORD)
                page.click("dialog button[type=submit]")
                page.wait_for_selector(".flash-applied")
                assert "acknowledged" in page.inner_text(".flash-applied")

                listed = json.loads(envmon_cli(plant, "alarms", "--json").stdout)
                [acked] = [a for a in listed if a["id"] == alarm.id]
                assert acked["acked_by"] == "olga"
                assert acked["signatures"][0]["user"] == "olga"
                assert acked["signatures"][0]["comment"] == "burst during transfer"
                retained = wait_for(
                    lambda: (watcher.latest(ALARM_TOPIC) or {}).get("signatures"),
                    10,
                    "the signature on the retained alarm topic",
                )
                assert retained[0]["user"] == "olga"
                assert retained[0]["meaning"] == "acknowledged"

                token = page.get_attribute("input[name=csrf]", "value")
                assert token
                forged = {
                    "csrf": token,
                    "meaning": "shelved",
                    "comment": "forged by an operator",
                    "duration": "900",
                    "password": PASSWORD,
                }
                assert post_from_page(page, f"/sign/shelve/{alarm.id}", forged) == 403
                no_token = {k: v for k, v in forged.items() if k != "csrf"}
                no_token["meaning"] = "acknowledged"
                assert post_from_page(page, f"/sign/ack/{alarm.id}", no_token) == 403
                after = journal.get_alarm(alarm.id)
                assert after is not None and not after.shelved
                assert [s.meaning for s in after.signatures] == ["acknowledged"]
                for text in (console.log(), page.content()):
                    assert PASSWORD not in text and "not-the-password" not in text
                    assert "$argon2" not in text

                qa = browser.new_context(accept_downloads=True).new_page()
                sign_in(qa, base, "quinn")
                qa.click("nav a:has-text('Reports')")
                start = time.gmtime(time.time() - 600)
                end = time.gmtime(time.time() + 60)
                qa.fill("input[name=from]", time.strftime("%Y-%m-%dT%H:%M", start))
                qa.fill("input[name=to]", time.strftime("%Y-%m-%dT%H:%M", end))
                qa.fill("input[name=batch]", "B-042")
                qa.check("input[name=format][value=json]")
                with qa.expect_download() as download:
                    qa.click("button:has-text('Make report')")
                report = json.loads(Path(download.value.path()).read_text())
                assert report["batch"] == "B-042"
                assert [e["room"] for e in report["excursions"]] == ["FILL-A"]
        finally:
            publisher.close()
            watcher.close()
            reader.close()
            journal.close()

    def test_idle_session_signs_out_by_itself(self, tmp_path: Path) -> None:
        """With the live page open and nobody touching it, the session ends after
        session_idle_s and the page goes to the sign-in page."""
        config = console_only(tmp_path, FACILITY, "[console]\nsession_idle_s = 2\n")
        add_user(config, "olga", "operator", PASSWORD)
        proc = ConsoleProcess(config, tmp_path / "console.log")
        proc.start()
        try:
            with chromium() as browser:
                page = browser.new_page()
                sign_in(page, proc.url, "olga")
                started = time.monotonic()
                page.wait_for_url(f"{proc.url}/signin?expired=1", timeout=10_000)
                assert 2.0 <= time.monotonic() - started < 8.0
                assert "ended after a time without activity" in page.content()
        finally:
            assert proc.stop() == 0, proc.log()

    def test_sensor_list_keeps_its_buttons_on_a_laptop_screen(self, tmp_path: Path) -> None:
        """At 1 280 x 800 a long calibration label wraps: the page is not wider than
        the screen and every sensor's Out of service button is on it."""
        calibrated = """
[[sensors]]
id = "TH-FILL-A-1"
room = "FILL-A"
kind = "climate"
calibration_due = 2027-06-30
certificate = "CAL-2026-0412 external laboratory, report 7731"
"""
        config = console_only(tmp_path, FACILITY + calibrated)
        add_user(config, "erik", "engineer", PASSWORD)
        proc = ConsoleProcess(config, tmp_path / "console.log")
        proc.start()
        try:
            with chromium() as browser:
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                sign_in(page, proc.url, "erik")
                page.goto(f"{proc.url}/sensors")
                buttons = page.locator("td.acts a.button")
                assert buttons.count() == 2
                for i in range(buttons.count()):
                    box = buttons.nth(i).bounding_box()
                    assert box is not None and box["x"] + box["width"] <= 1280, box
                assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        finally:
            assert proc.stop() == 0, proc.log()

    @pytest.mark.parametrize("width", [1280, 1024])
    def test_alarm_list_keeps_acknowledge_on_a_laptop_or_tablet(
        self, tmp_path: Path, width: int
    ) -> None:
        """At 1 280 px the alarm table fits (its smaller type and the raised time under
        its date); at 1 024 px each alarm is a card. Either way the page is not wider
        than the screen and every Acknowledge is on it; comm loss reads in seconds."""
        config = console_only(tmp_path, FACILITY)
        add_user(config, "erik", "engineer", PASSWORD)
        journal = Journal(tmp_path / "state" / "journal.sqlite")
        now_ns = time.time_ns()
        journal.record_events(
            [
                raised(
                    alarm(
                        "A1",
                        sensor="PC-FILL-A-1",
                        raised_ns=now_ns - 60 * 10**9,
                        value=318.4,
                        peak=318.4,
                    )
                ),
                raised(
                    alarm(
                        "A2",
                        sensor="TH-FILL-A-1",
                        parameter="comm_loss",
                        level=Level.COMM_LOSS,
                        raised_ns=now_ns,
                        value=20.34,
                        peak=20.34,
                        limit=20.0,
                    )
                ),
            ]
        )
        journal.close()
        proc = ConsoleProcess(config, tmp_path / "console.log")
        proc.start()
        try:
            with chromium() as browser:
                page = browser.new_page(viewport={"width": width, "height": 800})
                sign_in(page, proc.url, "erik")
                buttons = page.locator("td.acts a.button.primary")
                assert buttons.count() == 2
                for i in range(buttons.count()):
                    box = buttons.nth(i).bounding_box()
                    assert box is not None and box["x"] + box["width"] <= width, box
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                assert "20.34 s" in page.locator("tr[data-alarm=A2]").inner_text()
        finally:
            assert proc.stop() == 0, proc.log()
