"""check-config's words for equipment, declared parameters, ranges and calibration."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from envmon.calibration import CalibrationRecord
from envmon.checkconfig import describe, limit_warnings
from envmon.errors import ConfigError
from envmon.facility import parse_facility
from envmon.ingest.config import IngestSettings, TopicRule
from envmon.readings import NS_PER_S, Kind
from envmon.settings import Settings, load_settings

NOW = 1_795_082_400 * NS_PER_S  # 2026-11-19T10:00:00Z
FACILITY = parse_facility("""
site = "site1"

[[parameters]]
id = "co2"
name = "CO2"
unit = "%"
range = [0, 20]

[[rooms]]
id = "CELL-B"
grade = "B"

[[equipment]]
id = "INC-01"
room = "CELL-B"
type = "incubator"
name = "CO2 incubator 1"

[equipment.limits.co2]
action_low = 4.5
rate_per_min_low = -0.5
delay_s = 600

[[equipment]]
id = "FRG-01"
room = "CELL-B"
type = "fridge"

[[sensors]]
id = "INC-01-S1"
equipment = "INC-01"
kind = "equipment"
parameters = ["co2", "temperature"]
calibration_due = 2027-06-30
certificate = "CAL-2026-0412"

[[sensors]]
id = "DP-1"
room = "CELL-B"
kind = "pressure"
range = { diff_pressure = [-50, 50] }
calibration_due = 2026-11-01
""")


def output(**kwargs: object) -> str:
    return describe(Settings(), FACILITY, now_ns=NOW, **kwargs)  # type: ignore[arg-type]


class TestDescribe:
    def test_declared_parameters_are_listed(self) -> None:
        """Each declared parameter with its name, unit and plausible range."""
        assert 'parameter: co2 "CO2" in %, plausible 0 to 20' in output()

    def test_equipment_with_its_sensors_and_resolved_limits(self) -> None:
        """Equipment is shown in its room with each limit, the rate rule and its source."""
        out = output()
        assert '  equipment INC-01 incubator "CO2 incubator 1"' in out
        assert "    sensor    INC-01-S1 equipment measuring co2, temperature" in out
        assert (
            "    co2              in_operation (%) action_low 4.5 [facility file]; "
            "delay_s 600 [facility file]; rate_per_min_low -0.5 [facility file]"
        ) in out
        assert "    temperature      at_rest      (°C) no limits: stored, not judged" in out
        assert "    WARNING   no sensors: this equipment is not monitored" in out

    def test_room_state_default_clean_up_and_strictest_limits(self) -> None:
        """A strictest room says so, its clean-up period, and the limits while unknown."""
        out = output()
        assert "  state     unknown until fac/site1/CELL-B/state says otherwise" in out
        assert "  clean-up  1200 s (clean_up_s): after in_operation -> at_rest the " in out
        assert (
            "    co2              unknown      (%) action_low 4.5 [strictest: at_rest, facility "
            "file]; delay_s 600 [strictest: rules of at_rest, facility file]"
        ) in out
        named = parse_facility(
            'site = "s"\n[[rooms]]\nid = "R"\ngrade = "B"\ndefault_state = "in_operation"\n'
            "clean_up_s = 1200\n"
        )
        out = describe(Settings(), named, now_ns=NOW)
        assert "  state     in_operation until fac/s/R/state says otherwise" in out
        assert "  clean-up  1200 s (clean_up_s): after in_operation -> at_rest" in out
        assert " unknown " not in out

    def test_iso_9_at_rest_is_not_judged_and_says_why(self) -> None:
        """ISO 14644-1:2015: class 9 applies in operation only; check-config says so."""
        iso9 = parse_facility(
            'site = "s"\n[[rooms]]\nid = "W"\niso_class = 9\ndefault_state = "at_rest"\n'
            '[[sensors]]\nid = "PC"\nroom = "W"\nkind = "particles"\n'
        )
        out = describe(Settings(), iso9, now_ns=NOW)
        assert (
            "  particles_0_5um  at_rest      (counts/m³) no limits: stored, not judged "
            "(none: ISO 14644-1 class 9 applies in operation only)"
        ) in out
        assert "  particles_0_5um  in_operation (counts/m³) action_high 35200000" in out

    def test_ranges_say_where_they_come_from(self) -> None:
        """A sensor's range is its datasheet's when narrowed, else the plausible one."""
        out = output()
        assert "range diff_pressure -50 to 50 Pa (datasheet); beyond it: out_of_range" in out
        assert "range co2 0 to 20 % (plausible); temperature -100 to 200 °C (plausible)" in out

    def test_calibration_in_date_and_overdue(self) -> None:
        """Each sensor's calibration: due date, certificate, source and state now."""
        out = output()
        assert (
            "calibration due 2027-06-30, certificate CAL-2026-0412 [facility file]: "
            "in date, 223 days left"
        ) in out
        assert "calibration due 2026-11-01 [facility file]: OVERDUE since 2026-11-02" in out

    def test_a_record_overrides_the_file(self) -> None:
        """A signed record given to check-config is what it shows."""
        record = CalibrationRecord("DP-1", date(2027, 11, 1), "CAL-9", NOW - 3600 * NS_PER_S)
        out = output(records=[record])
        assert "calibration due 2027-11-01, certificate CAL-9 [record signed" in out

    def test_topic_rule_mapping_an_undeclared_parameter_fails(self) -> None:
        """A topic rule's field no parameter of the facility names is an error."""
        rule = TopicRule.model_validate({"pattern": "v/{sensor}", "fields": {"o2": {"path": "o"}}})
        settings = Settings(ingest=IngestSettings(topics=[rule]))
        with pytest.raises(ConfigError, match=r"ingest\.topics\[0\]\.fields\.o2: no parameter"):
            describe(settings, FACILITY, now_ns=NOW)


KEY = "0123456789abcdef0123456789abcdef"


def room(text: str) -> object:
    return parse_facility('site = "s"\n[[rooms]]\n' + text).model.rooms[0]


class TestLimitWarnings:
    def test_grade_d_particles_without_in_operation_limits(self) -> None:
        """Grade D with a particle counter and no in-operation limits is warned, per size."""
        d = room('id = "CORR-D"\ngrade = "D"\n')
        [warning] = limit_warnings(d, [], [Kind.PARTICLES])  # type: ignore[arg-type]
        assert warning.startswith(
            "grade D in operation: no limits for particles_0_5um, particles_5_0um"
        )

    def test_grade_d_with_site_limits_is_not_warned(self) -> None:
        """Both sizes set for in operation: no warning."""
        d = room(
            'id = "CORR-D"\ngrade = "D"\n'
            "[rooms.limits.particles_0_5um.in_operation]\naction_high = 3520000\n"
            "[rooms.limits.particles_5_0um.in_operation]\naction_high = 29300\n"
        )
        assert limit_warnings(d, [], [Kind.PARTICLES]) == []  # type: ignore[arg-type]

    def test_grade_d_without_a_particle_counter_is_not_warned(self) -> None:
        """Nothing measured, nothing to judge."""
        d = room('id = "STORE-D"\ngrade = "D"\n')
        assert limit_warnings(d, [], [Kind.CLIMATE]) == []  # type: ignore[arg-type]

    @pytest.mark.parametrize("grade", ["A", "B"])
    def test_grade_a_b_parameters_without_alert_levels(self, grade: str) -> None:
        """Grades A and B: each measured parameter without an alert level is named."""
        r = room(
            f'id = "R"\ngrade = "{grade}"\n'
            "[rooms.limits.particles_0_5um]\nalert_high = 2000\n"
            "[rooms.limits.diff_pressure]\naction_low = 10\n"
        )
        parameters = ["particles_0_5um", "particles_5_0um", "diff_pressure"]
        [warning] = limit_warnings(r, parameters, [Kind.PARTICLES, Kind.PRESSURE])  # type: ignore[arg-type]
        assert warning.startswith(
            f"grade {grade}: no alert levels for particles_5_0um, diff_pressure"
        )

    def test_grade_c_needs_no_alert_levels(self) -> None:
        """Alert levels are not demanded below grade B."""
        r = room('id = "R"\ngrade = "C"\n')
        assert limit_warnings(r, ["particles_0_5um"], [Kind.PARTICLES]) == []  # type: ignore[arg-type]


class TestJournalSettings:
    def write(self, tmp_path: Path, storage: str = "") -> Path:
        (tmp_path / "facility.toml").write_text('site = "s"\n[[rooms]]\nid = "R"\ngrade = "C"\n')
        path = tmp_path / "envmon.toml"
        path.write_text(f'[storage]\nstate_dir = "state"\n{storage}\n[facility]\nfile = '
                        '"facility.toml"\n')  # fmt: skip
        return path

    def text(self, config: Path) -> str:
        settings = load_settings(config)
        return describe(settings, parse_facility(Path(settings.facility.file).read_text()))

    def test_no_key_says_what_that_means(self, tmp_path: Path) -> None:
        """Without a key: not set, SHA-256 only; the anchor interval is shown."""
        text = self.text(self.write(tmp_path))
        assert "journal   key not set: entries chained with SHA-256 only" in text
        assert "every 300 s" in text

    def test_a_key_file_is_shown_as_set_never_its_value(self, tmp_path: Path) -> None:
        """With a key file: set, from which file, HMAC; the key itself never appears."""
        (tmp_path / "journal_key").write_text(KEY + "\n")
        config = self.write(tmp_path, 'journal_key_file = "journal_key"\nanchor_interval_s = 60')
        text = self.text(config)
        assert f"key set (from {tmp_path / 'journal_key'}): entries chained with HMAC" in text
        assert "every 60 s" in text and KEY not in text

    def test_the_systemd_credential_is_read(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The credential storage_journal_key in $CREDENTIALS_DIRECTORY is the key."""
        creds = tmp_path / "creds"
        creds.mkdir()
        (creds / "storage_journal_key").write_text(KEY)
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
        config = self.write(tmp_path)
        settings = load_settings(config)
        assert settings.storage.journal_key_bytes == KEY.encode()
        assert "the systemd credential storage_journal_key" in self.text(config)

    def test_the_credential_wins_over_the_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The service reads its credential; people's commands (no credentials) the file."""
        creds = tmp_path / "creds"
        creds.mkdir()
        (creds / "storage_journal_key").write_text(KEY)
        (tmp_path / "journal_key").write_text(KEY.upper())
        config = self.write(tmp_path, 'journal_key_file = "journal_key"')
        assert load_settings(config).storage.journal_key_bytes == KEY.upper().encode()
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
        assert load_settings(config).storage.journal_key_bytes == KEY.encode()

    def test_a_short_key_is_refused(self, tmp_path: Path) -> None:
        """A key shorter than 32 characters is a configuration error naming the file."""
        (tmp_path / "journal_key").write_text("short")
        config = self.write(tmp_path, 'journal_key_file = "journal_key"')
        with pytest.raises(ConfigError, match="has 5 characters, fewer than 32"):
            load_settings(config)
