"""The InfluxQL client against a real InfluxDB 1.6.7 with authentication on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from envmon.errors import EnvmonError
from envmon.report.influxql import InfluxQLClient
from envmon.store.config import InfluxSettings
from tests.support.servers import InfluxDB1, have

pytestmark = pytest.mark.integration


@pytest.fixture
def secured_influxdb(tmp_path: Path) -> Iterator[InfluxDB1]:
    if not have("influxd"):
        pytest.fail("influxd is not installed")
    server = InfluxDB1(tmp_path / "influxdb", auth=True)
    server.start()
    # The first user may be created without credentials; it must be an admin.
    server.query("CREATE USER admin WITH PASSWORD 's3cret' WITH ALL PRIVILEGES")
    server.create_database(user="admin", password="s3cret")
    yield server
    server.stop()


def _settings(url: str, password: str) -> InfluxSettings:
    return InfluxSettings(url=url, api="v1", username="admin", password=SecretStr(password))


class TestInfluxQLAuth:
    def test_user_and_password(self, secured_influxdb: InfluxDB1) -> None:
        """v1 credentials are sent and several statements come back in order."""
        client = InfluxQLClient(_settings(secured_influxdb.url, "s3cret"))
        results = client.query(["SHOW MEASUREMENTS", 'SELECT count("x") FROM "nothing"'])
        assert results == [[], []]

    def test_wrong_password(self, secured_influxdb: InfluxDB1) -> None:
        """Refused credentials are one clear error naming the URL and the keys to check."""
        client = InfluxQLClient(_settings(secured_influxdb.url, "wrong"))
        with pytest.raises(EnvmonError, match=r"refused the credentials \(HTTP 401\)"):
            client.query(["SHOW MEASUREMENTS"])

    def test_bad_statement(self, secured_influxdb: InfluxDB1) -> None:
        """A statement the server refuses is named with the server's reason."""
        client = InfluxQLClient(_settings(secured_influxdb.url, "s3cret"))
        with pytest.raises(
            EnvmonError, match=r"answered HTTP 400: error parsing query: found SELEKT"
        ):
            client.query(["SELEKT 1"])
