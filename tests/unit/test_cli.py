"""The envmon command: exit codes and one-line errors, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from envmon.cli import main

CONFIG = Path(__file__).parents[2] / "config"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    shutil.copy(CONFIG / "facility.toml", tmp_path / "facility.toml")
    text = (CONFIG / "envmon.toml").read_text().replace('"/var/lib/envmon"', '"state"')
    (tmp_path / "envmon.toml").write_text(text)
    return tmp_path / "envmon.toml"


class TestCheckConfig:
    def test_example_configuration_passes_and_shows_sources(
        self, config: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """check-config exits 0 and shows each limit with where it came from."""
        assert main(["check-config", "--config", str(config)]) == 0
        out = capsys.readouterr().out
        assert "room FILL-A" in out and "configuration OK" in out
        assert "action_high 29 [Annex 1 table, grade A in operation]" in out
        assert "consecutive 2 [facility file]" in out
        assert "Annex 1 leaves grade D in operation site-defined" in out

    def test_broken_facility_exits_1_naming_file_and_key(
        self, config: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A facility mistake is one line naming the file and key, exit 1."""
        facility = config.parent / "facility.toml"
        facility.write_text(facility.read_text().replace('room = "FILL-A"', 'room = "FILL-X"', 1))
        assert main(["check-config", "--config", str(config)]) == 1
        err = capsys.readouterr().err
        assert "facility.toml" in err and "room: no room 'FILL-X'" in err
        assert "Traceback" not in err

    def test_bad_schedule_is_refused(
        self, config: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An invalid cron expression in a schedule fails check-config."""
        facility = config.parent / "facility.toml"
        facility.write_text(
            facility.read_text()
            + '\n[[schedules]]\nroom = "BG-B"\nstate = "at_rest"\ncron = "61 * * * *"\n'
        )
        assert main(["check-config", "--config", str(config)]) == 1
        assert "schedules" in capsys.readouterr().err

    def test_missing_settings_file(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A missing --config file is one line, exit 1."""
        assert main(["check-config", "--config", str(tmp_path / "nope.toml")]) == 1
        assert "cannot read settings file" in capsys.readouterr().err


class TestJournalCommands:
    def test_alarms_without_journal_says_where_it_looked(
        self, config: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Before the service ever ran, `envmon alarms` explains there is no journal yet."""
        assert main(["alarms", "--config", str(config)]) == 1
        assert "no journal yet" in capsys.readouterr().err

    def test_ack_needs_a_comment(self, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """An acknowledgement without a reason is refused."""
        rc = main(["ack", "abc", "--user", "jo", "--comment", " ", "--config", str(config)])
        assert rc == 1
        assert "--comment" in capsys.readouterr().err

    def test_report_bad_time_names_the_option(
        self, config: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A nonsense --from is named in the error."""
        rc = main(["report", "--from", "yesterday", "--to", "now", "--config", str(config)])
        assert rc == 1
        assert "--from 'yesterday'" in capsys.readouterr().err

    def test_relative_from_is_not_taken_for_an_option(
        self, config: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`--from -2h` parses as a time (the error is about the journal, not the option)."""
        rc = main(["report", "--from", "-2h", "--to", "now", "--room", "NOPE",
                   "--config", str(config)])  # fmt: skip
        err = capsys.readouterr().err
        assert rc == 1
        assert "expected one argument" not in err and "envmon: error:" in err
