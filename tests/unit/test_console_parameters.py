"""The console names a declared parameter as the facility in force does, in its unit,
and follows the service's loads of the file, not the file as it is on disk."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from envmon.alarms.events import AlarmEvent, Level, Transient, Transition
from envmon.console.app import build_console, create_app
from envmon.journal.journal import Journal
from envmon.settings import Settings
from tests.support.console import (
    EXAMPLE_FACILITY,
    FakeGate,
    console_settings,
    journal_sighup_load,
    journal_start_load,
    seed_journal,
)
from tests.support.console import sign_in as signed_in_as
from tests.support.facilities import SMALL_FACILITY
from tests.support.journal_samples import T0, S, alarm, excursion

CO2 = alarm("a-co2", room="CELL-B", sensor="INC-01-S1", parameter="co2", equipment="INC-01",
            value=3.742, peak=3.742, limit=4.5)  # fmt: skip
CO2_TRANSIENT = Transient(
    site="site1", room="CELL-B", equipment="INC-01", sensor="INC-01-S1", parameter="co2",
    level=Level.ALERT, side="low", start_ns=T0 - 600 * S, end_ns=T0 - 300 * S, peak=4.61,
    samples=5, limit=4.7,
)  # fmt: skip


def client_over(settings: Settings, *, loaded: bool = True) -> Iterator[TestClient]:
    """A console over a journal with an incubator CO2 alarm and transient, and the
    facility file as the service loaded it at start (``loaded``), with olga signed in."""
    seed_journal(settings, [AlarmEvent(Transition.RAISED, CO2, T0, excursion(CO2, peak=3.742))])
    if loaded:
        journal_start_load(settings)
    journal = Journal(settings.storage.journal_path)
    try:
        journal.record_transients([CO2_TRANSIENT])
    finally:
        journal.close()
    console = build_console(settings, FakeGate(), tls=False, clock_ns=lambda: T0 + 60 * S)
    try:
        with TestClient(create_app(console), follow_redirects=False) as client:
            signed_in_as(client, "olga")
            yield client
    finally:
        console.close()


@pytest.fixture
def facility_file(tmp_path: Path) -> Path:
    """A copy of the example facility (which declares co2: CO2, %), free to edit."""
    path = tmp_path / "facility.toml"
    shutil.copy(EXAMPLE_FACILITY, path)
    return path


@pytest.fixture
def settings(tmp_path: Path, facility_file: Path) -> Settings:
    return console_settings(tmp_path, facility=facility_file)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    yield from client_over(settings)


class TestDeclaredParameter:
    def test_alarm_list_and_detail_show_name_and_unit(self, client: TestClient) -> None:
        """The list and the detail name CO2 and the incubator, and show value, peak and
        limit in %."""
        rows = client.get("/alarms").text
        assert '<td class="room">CELL-B<br><span class="sub">INC-01</span></td>' in rows
        assert "<td>CO2<br>" in rows
        assert '3.742 %<br><span class="sub">limit 4.5 %</span>' in rows
        detail = client.get("/alarms/a-co2").text
        assert "CO2 in CELL-B/INC-01</h1>" in detail
        assert "<dt>Equipment</dt><dd>INC-01, CO2 incubator 1 (incubator)</dd>" in detail
        assert "<dt>Value</dt><dd>3.742 %</dd>" in detail
        assert "<dt>Limit</dt><dd>4.5 %</dd>" in detail
        assert '<td class="num">3.742 %</td><td class="num">4.5 %</td>' in detail
        assert "action alarm, CO2 in CELL-B/INC-01; value 3.742 %; peak 3.742 %; limit 4.5 %" in (
            detail
        )

    def test_audit_trail_and_sign_form_read_with_name_and_unit(self, client: TestClient) -> None:
        """The audit sentences of the alarm and of the transient, and the signing form."""
        audit = client.get("/audit").text
        assert (
            "action alarm, CO2 in CELL-B/INC-01; value 3.742 %; peak 3.742 %; limit 4.5 %" in audit
        )
        assert (
            "alert transient, CO2 low in CELL-B/INC-01 (INC-01-S1): peak 4.61 % against "
            "limit 4.7 % for 300 s"
        ) in audit
        assert (
            "action alarm: CO2 in CELL-B/INC-01 (INC-01-S1)" in client.get("/sign/ack/a-co2").text
        )


class TestFacilityChanges:
    def test_the_pages_follow_the_loads_not_the_disk(
        self, client: TestClient, settings: Settings, facility_file: Path
    ) -> None:
        """A new name and unit written to the file are shown once the service loads the
        file, not before; a file the service refuses leaves the one in force; a
        parameter since removed shows its id without a unit."""
        text = facility_file.read_text()
        assert "3.742 %<br>" in client.get("/alarms").text
        renamed = text.replace(
            'name = "CO2"\nunit = "%"', 'name = "Carbon dioxide"\nunit = "vol-%"'
        )
        assert renamed != text
        facility_file.write_text(renamed)
        assert "<td>CO2<br>" in client.get("/alarms").text
        assert journal_sighup_load(settings)
        rows = client.get("/alarms").text
        assert "<td>Carbon dioxide<br>" in rows
        assert '3.742 vol-%<br><span class="sub">limit 4.5 vol-%</span>' in rows
        facility_file.write_text("site = [\n")
        assert not journal_sighup_load(settings)
        assert "3.742 vol-%<br>" in client.get("/alarms").text
        facility_file.write_text(SMALL_FACILITY)
        assert journal_sighup_load(settings)
        rows = client.get("/alarms").text
        assert "<td>co2<br>" in rows
        assert '3.742<br><span class="sub">limit 4.5</span>' in rows
        assert "action alarm, co2 in CELL-B/INC-01; value 3.742; peak 3.742; limit 4.5" in (
            client.get("/audit").text
        )

    def test_before_any_load_the_file_on_disk_is_followed(
        self, settings: Settings, facility_file: Path
    ) -> None:
        """No load journaled yet: names come from the file on disk, read again when it
        changes; one that cannot be read leaves the last one read in use."""
        for client in client_over(settings, loaded=False):
            assert "3.742 %<br>" in client.get("/alarms").text
            text = facility_file.read_text()
            facility_file.write_text("site = [\n")
            assert "3.742 %<br>" in client.get("/alarms").text
            facility_file.write_text(text.replace('unit = "%"', 'unit = "vol-%"'))
            assert "3.742 vol-%<br>" in client.get("/alarms").text

    def test_no_readable_file_at_all_shows_ids(self, tmp_path: Path) -> None:
        """A console whose facility file never could be read, and no load journaled,
        still lists the alarm."""
        settings = console_settings(tmp_path, facility=tmp_path / "missing.toml")
        for client in client_over(settings, loaded=False):
            response = client.get("/alarms")
            assert response.status_code == 200
            assert "<td>co2<br>" in response.text

    def test_no_readable_file_at_all_still_opens_an_equipment_alarm(self, tmp_path: Path) -> None:
        """The detail names the equipment by its id when no facility can be shown."""
        settings = console_settings(tmp_path, facility=tmp_path / "missing.toml")
        for client in client_over(settings, loaded=False):
            response = client.get("/alarms/a-co2")
            assert response.status_code == 200
            assert "<dt>Equipment</dt><dd>INC-01</dd>" in response.text
