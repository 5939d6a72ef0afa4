"""The service hands its notifiers the parameters of the facility in force."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import envmon.service
from envmon.facility import load_facility
from envmon.notify.base import Notifier
from envmon.notify.config import NotifySettings
from envmon.notify.email import ParametersNow
from tests.support.console import EXAMPLE_FACILITY, console_settings

# Nothing listens on port 9 of the loopback; the service is built, never started.
SETTINGS = """
[mqtt]
host = "127.0.0.1"
port = 9

[notify.email]
smtp_host = "127.0.0.1"
smtp_port = 9
recipients = ["qa@example.com"]
"""


def test_after_a_reload_notifiers_see_the_new_parameters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the notifiers are given reads the facility the service runs, reloads included."""
    facility = tmp_path / "facility.toml"
    shutil.copy(EXAMPLE_FACILITY, facility)
    settings = console_settings(tmp_path, SETTINGS, facility=facility)
    given: list[ParametersNow] = []
    build = envmon.service.build_notifiers

    def spy(notify: NotifySettings, parameters: ParametersNow) -> list[Notifier]:
        given.append(parameters)
        return build(notify, parameters)

    monkeypatch.setattr(envmon.service, "build_notifiers", spy)
    service = envmon.service.Service(settings, load_facility(facility))
    try:
        (parameters,) = given
        assert (parameters()["co2"].name, parameters()["co2"].unit) == ("CO2", "%")
        text = facility.read_text()
        facility.write_text(
            text.replace('name = "CO2"\nunit = "%"', 'name = "CO₂"\nunit = "vol-%"')
        )
        service.reload_facility()
        assert (parameters()["co2"].name, parameters()["co2"].unit) == ("CO₂", "vol-%")
    finally:
        service.journal.close()
