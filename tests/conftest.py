"""Shared fixtures: real servers on free loopback ports, a temp state dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from envmon.signing.testing import cheap_hashes
from tests.support.servers import InfluxDB1, Mosquitto, VictoriaMetrics, have


def _require(binary: str) -> None:
    if not have(binary):
        pytest.fail(f"{binary} is not installed: .ci/run installs it from Debian's packages")


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    _require("mosquitto")
    server = Mosquitto(tmp_path / "mosquitto")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def influxdb(tmp_path: Path) -> Iterator[InfluxDB1]:
    _require("influxd")
    server = InfluxDB1(tmp_path / "influxdb")
    server.start()
    server.create_database()
    yield server
    server.stop()


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    _require("victoria-metrics")
    server = VictoriaMetrics(tmp_path / "victoria")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def cheap() -> Iterator[None]:
    """Hash passwords with the cheap test profile (``envmon.signing.testing``)."""
    with cheap_hashes():
        yield
