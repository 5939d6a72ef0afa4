"""The service's loads journaled (start, SIGHUP, signed reload) and the queries of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from envmon.config_diff import Change
from envmon.facility import Facility
from envmon.journal.journal import Journal
from envmon.readings import RoomState
from envmon.runtime.reload import Reloader, prepare_reload, read_facility
from envmon.settings import load_settings
from envmon.signing.rules import Act
from tests.support.facilities import SMALL_FACILITY
from tests.support.journal_samples import T0, S
from tests.support.signing import Clock, add_user, attempt, signer

pytestmark = pytest.mark.usefixtures("cheap")

EDITED = SMALL_FACILITY.replace("alert_low = 12.0", "alert_low = 13.0")
ALERT_KEY = "facility.rooms.PREP-C.limits.diff_pressure.alert_low"


class Site:
    """A facility file, a journal on a stepping clock, and the service's reloader."""

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "facility.toml"
        self.path.write_text(SMALL_FACILITY)
        self.clock = Clock(T0)
        self.journal = Journal(tmp_path / "journal.sqlite", clock_ns=self.clock)
        self.applied: list[Facility] = []
        facility, text = read_facility(self.path)
        self.reloader = Reloader(self.journal, facility, self.applied.append)
        self.reloader.record_facility(text)

    def sign_reload(self, user: str = "jdoe") -> int:
        """Sign a reload of the file as it is now, as ``envmon reload`` does."""
        params = prepare_reload(self.journal, self.path).reload_params()
        signed = signer(self.journal, self.clock).sign(
            attempt(user, Act.RELOAD, "facility", params=params, comment="new DP alert level")
        )
        assert signed.request_id is not None
        return signed.request_id

    def apply(self, request_id: int) -> str | None:
        [request] = [r for r in self.journal.requests.pending() if r.id == request_id]
        self.reloader.reload_signed(request)
        return self.journal.requests.outcome(request_id)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = Site(tmp_path)
    add_user(s.journal, "jdoe", "engineer")
    yield s
    s.journal.close()


class TestStart:
    def test_the_first_start_is_journaled_unsigned_with_nothing_to_compare(
        self, site: Site
    ) -> None:
        """Service start: unsigned, source 'service start', no earlier load."""
        load = site.journal.configs.last("facility")
        assert load is not None and not load.signed
        assert (load.source, load.changes, load.text) == ("service start", None, SMALL_FACILITY)
        assert load.limits is not None and "PREP-C" in load.limits.rooms

    def test_a_restart_with_an_edited_file_is_unsigned_with_its_difference(
        self, site: Site, tmp_path: Path
    ) -> None:
        """Edited while the service was down: the next start journals the difference."""
        site.path.write_text(EDITED)
        facility, text = read_facility(site.path)
        Reloader(site.journal, facility, site.applied.append).record_facility(text)
        load = site.journal.configs.last("facility")
        assert load is not None and not load.signed and load.source == "service start"
        assert load.changes is not None and Change(ALERT_KEY, 12.0, 13.0) in load.changes

    def test_settings_are_journaled_with_their_difference(self, site: Site, tmp_path: Path) -> None:
        """Settings at start are flattened (secrets masked) and compared with the last start."""
        config = tmp_path / "envmon.toml"
        config.write_text('[mqtt]\nport = 1883\n[influx]\ntoken = "s3cret"\n')
        site.reloader.record_settings(load_settings(config))
        config.write_text('[mqtt]\nport = 1884\n[influx]\ntoken = "s3cret"\n')
        site.reloader.record_settings(load_settings(config))
        load = site.journal.configs.last("settings")
        assert load is not None and load.changes == (Change("settings.mqtt.port", 1883, 1884),)
        assert load.flat is not None and "s3cret" not in str(load.flat)


class TestSighup:
    def test_a_bare_sighup_is_journaled_unsigned_with_its_difference(self, site: Site) -> None:
        """SIGHUP with an edited file: applied, journaled unsigned (source SIGHUP)."""
        site.path.write_text(EDITED)
        assert site.reloader.reload_unsigned()
        load = site.journal.configs.last("facility")
        assert load is not None and (load.source, load.signed) == ("SIGHUP", False)
        assert load.changes is not None and Change(ALERT_KEY, 12.0, 13.0) in load.changes
        assert [f.sha256 for f in site.applied] == [load.sha256]

    def test_a_bad_file_is_refused_and_nothing_journaled(self, site: Site) -> None:
        """An invalid file is not applied nor journaled; the running facility stays."""
        before = len(site.journal.audit_entries())
        site.path.write_text(SMALL_FACILITY.replace('kind = "pressure"', 'kind = "smell"'))
        assert not site.reloader.reload_unsigned()
        assert len(site.journal.audit_entries()) == before and site.applied == []


class TestSignedReload:
    def test_a_signed_reload_is_journaled_with_who_why_and_the_difference(self, site: Site) -> None:
        """Applied: the load carries the signature, its comment as reason, and the changes."""
        site.path.write_text(EDITED)
        request_id = site.sign_reload()
        assert site.apply(request_id) == "ok"
        load = site.journal.configs.last("facility")
        assert load is not None and load.signature is not None
        assert (load.signature.user, load.reason, load.source, load.request_id) == (
            "jdoe",
            "new DP alert level",
            "envmon reload",
            request_id,
        )
        assert load.changes is not None and Change(ALERT_KEY, 12.0, 13.0) in load.changes
        assert len(site.applied) == 1
        entries = site.journal.audit_entries()
        assert [e.kind for e in entries[-2:]] == ["config_load", "request_outcome"]

    def test_a_file_changed_after_signing_is_refused(self, site: Site) -> None:
        """The file differs from the one signed: refused, nothing applied or journaled as load."""
        site.path.write_text(EDITED)
        request_id = site.sign_reload()
        site.path.write_text(EDITED.replace("13.0", "14.0"))
        outcome = site.apply(request_id)
        assert outcome is not None and outcome.startswith("refused: ")
        assert "changed since the reload was signed" in outcome
        assert site.applied == []
        last = site.journal.configs.last("facility")
        assert last is not None and last.source == "service start"

    def test_a_file_that_no_longer_validates_is_refused(self, site: Site) -> None:
        """The file broke after signing: refused, naming the validation error."""
        site.path.write_text(EDITED)
        request_id = site.sign_reload()
        site.path.write_text("site = ")
        outcome = site.apply(request_id)
        assert outcome is not None and "no longer validates" in outcome

    def test_a_reload_signed_against_another_running_facility_is_refused(self, site: Site) -> None:
        """A SIGHUP between signing and applying changes the difference: refused."""
        site.path.write_text(EDITED)
        request_id = site.sign_reload()
        assert site.reloader.reload_unsigned()
        outcome = site.apply(request_id)
        assert outcome is not None and "the running facility changed since" in outcome


class TestSignedWhileDown:
    def test_a_reload_signed_while_the_service_was_down_is_applied_at_start(
        self, site: Site
    ) -> None:
        """The start load that is exactly a pending signed reload is that reload, signed."""
        site.path.write_text(EDITED)
        request_id = site.sign_reload()
        facility, text = read_facility(site.path)
        Reloader(site.journal, facility, site.applied.append).record_facility(text)
        load = site.journal.configs.last("facility")
        assert load is not None and load.signature is not None
        assert (load.source, load.request_id, load.signature.user) == (
            "envmon reload",
            request_id,
            "jdoe",
        )
        assert site.journal.requests.outcome(request_id) == "ok"

    def test_a_start_with_another_file_leaves_the_request_to_be_refused(self, site: Site) -> None:
        """A signed reload that is not what the service starts with stays pending, unsigned load."""
        site.path.write_text(EDITED)
        request_id = site.sign_reload()
        site.path.write_text(EDITED.replace("13.0", "14.0"))
        facility, text = read_facility(site.path)
        Reloader(site.journal, facility, site.applied.append).record_facility(text)
        load = site.journal.configs.last("facility")
        assert load is not None and not load.signed
        assert site.journal.requests.outcome(request_id) is None


class TestQueries:
    def test_loads_in_force_and_timeline(self, site: Site) -> None:
        """The loads of a window, the one in force at a time, and the timeline of a window."""
        start = site.clock()
        site.clock.advance(60)
        site.path.write_text(EDITED)
        site.reloader.reload_unsigned()
        site.clock.advance(60)
        site.reloader.reload_unsigned()  # the same file again: unchanged
        assert [load.source for load in site.journal.configs.loads(start, start + 61 * S)] == [
            "service start",
            "SIGHUP",
        ]
        in_force = site.journal.configs.in_force(start + 30 * S)
        assert in_force is not None and in_force.source == "service start"
        later = site.journal.configs.in_force(start + 90 * S)
        assert later is not None and later.limits is not None
        assert later.limits.limits("PREP-C", "diff_pressure", RoomState.AT_REST) is not None
        assert (
            later.limits.rooms["PREP-C"].parameters["diff_pressure"][RoomState.AT_REST].alert_low
            == 13.0
        )
        timeline = site.journal.configs.facility_timeline(start + 30 * S, start + 200 * S)
        assert [(t.source, t.changes == ()) for t in timeline] == [
            ("service start", False),
            ("SIGHUP", False),
            ("SIGHUP", True),
        ]
        assert site.journal.configs.in_force(start - S) is None

    def test_an_unchanged_load_reads_its_limits_and_text_from_the_earlier_entry(
        self, site: Site
    ) -> None:
        """References are followed: every load has its limits, the last its text."""
        site.reloader.reload_unsigned()
        entries = [e for e in site.journal.audit_entries() if e.kind == "config_load"]
        assert "text" not in entries[-1].data and "limits" not in entries[-1].data
        last = site.journal.configs.last("facility")
        assert last is not None and last.text == SMALL_FACILITY and last.limits is not None
