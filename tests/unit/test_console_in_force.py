"""The console shows the facility the service judges against (its latest journaled
load), not the file as it is on disk, and says when the two differ."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

import envmon.console.in_force as in_force_module
from envmon.config_load import Compared, ConfigSource, LoadBy, facility_load_data
from envmon.console.app import build_console, create_app
from envmon.console.context import Console
from envmon.console.views import time_label
from envmon.errors import ConfigError
from envmon.facility import Facility, parse_facility
from envmon.journal.journal import Journal
from envmon.limits_snapshot import snapshot_of
from envmon.settings import Settings
from tests.support.console import (
    FakeGate,
    console_settings,
    journal_sighup_load,
    journal_start_load,
    seed_journal,
    sign_in,
)
from tests.support.facilities import SMALL_FACILITY
from tests.support.signing import signature

EDITED = (
    SMALL_FACILITY
    + """
[[sensors]]
id = "DP2"
room = "PREP-C"
kind = "pressure"
interval_s = 1
stale_after_s = 5

[[rooms]]
id = "QC-LAB"
grade = "D"
"""
)
CHANGED = "The facility file on disk has changed since it was loaded at"
IN_FORCE = "the pages show the facility in force until the service reloads it."
NO_LOAD = "The journal holds no facility load yet"


class Rig:
    """A facility file, a journal the service would write, and a console over both."""

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "facility.toml"
        self.path.write_text(SMALL_FACILITY)
        self.settings: Settings = console_settings(tmp_path, facility=self.path)
        seed_journal(self.settings)
        self.console: Console = build_console(self.settings, FakeGate(), tls=False)

    def start(self) -> None:
        """The service starts with the file as it is."""
        journal_start_load(self.settings)

    def sighup(self) -> bool:
        return journal_sighup_load(self.settings)

    def record(self, text: str, *, journal_text: bool = True, by: LoadBy | None = None) -> None:
        """Journal a load of ``text``, as the service does, with or without the text."""
        facility = parse_facility(text, self.path)
        journal = Journal(self.settings.storage.journal_path)
        try:
            previous = journal.configs.last("facility")
            data = facility_load_data(
                facility,
                text if journal_text else None,
                snapshot_of(facility),
                previous,
                Compared(None, "test"),
                by or LoadBy(ConfigSource.SERVICE_START),
                "test",
            )
            journal.configs.record(data)
        finally:
            journal.close()

    def loaded_at(self) -> str:
        load = self.console.journal.configs.last("facility")
        assert load is not None
        return time_label(load.at_ns)

    def close(self) -> None:
        self.console.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    yield r
    r.close()


@pytest.fixture
def client(rig: Rig) -> Iterator[TestClient]:
    with TestClient(create_app(rig.console), follow_redirects=False) as c:
        sign_in(c, "quinn")
        yield c


def _notice(html: str) -> str:
    """The facility notice on a page, "" when none."""
    marker = '<p class="notice" role="status" data-facility-notice>'
    if marker not in html:
        return ""
    return html.split(marker, 1)[1].split("</p>", 1)[0]


class TestInForce:
    def test_pages_show_the_load_in_force_without_a_notice(
        self, rig: Rig, client: TestClient
    ) -> None:
        """The file as loaded at start: its sensors and rooms, nothing to say."""
        rig.start()
        sensors = client.get("/sensors").text
        assert 'data-sensor="PC1"' in sensors and 'data-sensor="DP1"' in sensors
        assert _notice(sensors) == ""
        assert _notice(client.get("/rooms").text) == ""

    def test_an_edit_not_yet_loaded_shows_the_facility_in_force_and_says_so(
        self, rig: Rig, client: TestClient
    ) -> None:
        """A sensor and a room added on disk are not shown before a reload; the sensors,
        rooms and report pages, and the live tables, say the file on disk has changed."""
        rig.start()
        rig.path.write_text(EDITED)
        expected = f"{CHANGED} {rig.loaded_at()} when the service started; {IN_FORCE}"
        sensors = client.get("/sensors").text
        assert 'data-sensor="DP1"' in sensors and 'data-sensor="DP2"' not in sensors
        assert _notice(sensors) == expected
        rooms = client.get("/rooms").text
        assert 'data-room="PREP-C"' in rooms and 'data-room="QC-LAB"' not in rooms
        assert _notice(rooms) == expected
        assert _notice(client.get("/sensors/table").text) == expected
        assert _notice(client.get("/rooms/table").text) == expected
        reports = client.get("/reports").text
        assert 'value="PREP-C"' in reports and 'value="QC-LAB"' not in reports
        assert _notice(reports) == expected

    def test_a_new_load_is_followed(self, rig: Rig, client: TestClient) -> None:
        """Once the service reloads the edited file, the pages show it, with no notice."""
        rig.start()
        rig.path.write_text(EDITED)
        assert rig.sighup()
        sensors = client.get("/sensors").text
        assert 'data-sensor="DP2"' in sensors
        assert _notice(sensors) == ""
        rooms = client.get("/rooms").text
        assert 'data-room="QC-LAB"' in rooms
        assert _notice(rooms) == ""

    def test_a_refused_reload_leaves_the_facility_in_force(
        self, rig: Rig, client: TestClient
    ) -> None:
        """A file the service refuses is not shown; the notice says it is not in force."""
        rig.start()
        rig.path.write_text("site = [\n")
        assert not rig.sighup()
        sensors = client.get("/sensors").text
        assert client.get("/sensors").status_code == 200
        assert 'data-sensor="DP1"' in sensors
        assert _notice(sensors).startswith(CHANGED)

    def test_the_notice_names_who_signed_the_load(self, rig: Rig, client: TestClient) -> None:
        """A signed reload: the notice gives the signer's name and user."""
        rig.start()
        by = LoadBy(ConfigSource.SIGNED_RELOAD, signature("erik", meaning="approved"))
        rig.record(EDITED, by=by)
        rig.path.write_text(SMALL_FACILITY)
        sensors = client.get("/sensors").text
        assert 'data-sensor="DP2"' in sensors
        assert _notice(sensors) == (f"{CHANGED} {rig.loaded_at()} by Jane Doe (erik); {IN_FORCE}")

    def test_a_file_gone_from_disk_says_so(self, rig: Rig, client: TestClient) -> None:
        """The file deleted: the facility in force is shown, and why the file is not compared."""
        rig.start()
        rig.path.unlink()
        sensors = client.get("/sensors").text
        assert 'data-sensor="PC1"' in sensors
        assert _notice(sensors) == (
            f"The facility file on disk cannot be read ({rig.path}: cannot read facility "
            "file: No such file or directory); the pages show the facility in force, "
            f"loaded at {rig.loaded_at()} when the service started."
        )


class TestOnDisk:
    def test_without_a_load_the_file_on_disk_is_shown_and_said_so(
        self, rig: Rig, client: TestClient
    ) -> None:
        """No load journaled (the service never ran): the file on disk, followed as it
        changes, with a notice on the pages."""
        sensors = client.get("/sensors").text
        assert 'data-sensor="PC1"' in sensors
        assert _notice(sensors).startswith(NO_LOAD)
        assert _notice(client.get("/rooms").text).startswith(NO_LOAD)
        assert _notice(client.get("/reports").text).startswith(NO_LOAD)
        rig.path.write_text(EDITED)
        assert 'data-sensor="DP2"' in client.get("/sensors").text

    def test_a_load_without_its_text_is_the_file_while_the_hashes_agree(
        self, rig: Rig, client: TestClient
    ) -> None:
        """A load journaled without the text: the file on disk with the same SHA-256 is the
        one in force (no notice); once edited, it is shown with a notice saying so."""
        rig.record(SMALL_FACILITY, journal_text=False)
        assert _notice(client.get("/sensors").text) == ""
        rig.path.write_text(EDITED)
        sensors = client.get("/sensors").text
        assert 'data-sensor="DP2"' in sensors
        assert _notice(sensors) == (
            f"The facility in force was loaded at {rig.loaded_at()} when the service started "
            "but journaled without its text: the pages show the facility file as it is on "
            "disk, which has changed since."
        )

    def test_the_hash_is_of_the_text_as_read(self, rig: Rig, client: TestClient) -> None:
        """A file with CRLF line ends is the one loaded (the service hashes the text with
        its newlines read as LF): no notice."""
        rig.path.write_bytes(SMALL_FACILITY.replace("\n", "\r\n").encode())
        rig.start()
        assert _notice(client.get("/sensors").text) == ""


class TestParsedOncePerLoad:
    @pytest.fixture
    def parses(self, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        seen: list[str] = []
        real: Callable[..., Facility] = in_force_module.parse_facility

        def counting(text: str, path: Path | None = None) -> Facility:
            seen.append(text)
            return real(text, path)

        monkeypatch.setattr(in_force_module, "parse_facility", counting)
        return seen

    def test_the_text_of_a_load_is_parsed_once(self, rig: Rig, parses: list[str]) -> None:
        """Requests reuse the parsed load; a reload of the same file reuses it too; an
        edit on disk is hashed, not parsed; a load of the edit is parsed once."""
        rig.start()
        first = rig.console.facility()
        assert rig.console.facility() is first and len(parses) == 1
        assert rig.sighup()
        assert rig.console.facility() is first and len(parses) == 1
        rig.path.write_text(EDITED)
        assert rig.console.facility_shown().notice.startswith(CHANGED)
        assert len(parses) == 1
        assert rig.sighup()
        assert "DP2" in rig.console.facility().sensors
        rig.console.facility()
        assert parses == [SMALL_FACILITY, EDITED]


class TestWords:
    def test_a_load_that_cannot_be_shown_gives_way_to_the_last_one(
        self, rig: Rig, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A journaled text this console cannot parse: parameters are named as the last
        facility shown, with one warning for the problem, not one per page."""
        declared = SMALL_FACILITY + (
            '\n[[parameters]]\nid = "co2"\nname = "CO2"\nunit = "%"\nrange = [0, 20]\n'
        )
        rig.path.write_text(declared)
        rig.start()
        assert rig.console.words().label("co2") == "CO2"
        _record_unparsable(rig.settings)
        with caplog.at_level(logging.WARNING, logger="envmon.console.context"):
            assert rig.console.words().label("co2") == "CO2"
            assert rig.console.words().label("co2") == "CO2"
        warnings = [r for r in caplog.records if "does not validate" in r.getMessage()]
        assert len(warnings) == 1


def _record_unparsable(settings: Settings) -> None:
    """A facility load whose text does not validate (as from another envmon version)."""
    facility = parse_facility(SMALL_FACILITY)
    journal = Journal(settings.storage.journal_path)
    try:
        data = facility_load_data(
            facility,
            SMALL_FACILITY,
            snapshot_of(facility),
            None,
            Compared(None, "test"),
            LoadBy(ConfigSource.SIGHUP),
            "test",
        )
        data["text"] = SMALL_FACILITY.replace('grade = "A"', 'grade = "Z"')
        journal.configs.record(data)
    finally:
        journal.close()


class TestProblems:
    def test_a_file_on_disk_that_does_not_validate_is_named_once(self, rig: Rig) -> None:
        """No load journaled and a broken file: the error names the file, as envmon check does."""
        rig.path.write_text("site = [\n")
        with pytest.raises(ConfigError) as raised:
            rig.console.facility()
        assert str(raised.value).startswith(f"{rig.path}: not valid TOML")

    def test_a_load_that_does_not_validate_names_its_entry(self, rig: Rig) -> None:
        """A journaled text this envmon cannot parse: the error names the journal entry."""
        _record_unparsable(rig.settings)
        load = rig.console.journal.configs.last("facility")
        assert load is not None
        with pytest.raises(
            ConfigError, match=rf"^the facility in force \(journal seq {load.seq}\)"
        ):
            rig.console.facility()
