"""Issue 6, security: MQTT over TLS with client certificates, and username/password auth.

The broker is a real Mosquitto configured to require what it says; envmon
runs as ``envmon run`` and must store every reading published by an
authorised client, while unauthenticated clients are refused by the broker.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from tests.integration.test_ingest_e2e import expected_points, influx_points, wait_for_count
from tests.support.certs import KeyPair, Pki, make_pki
from tests.support.fleet import readings, write_facility
from tests.support.mqtt_endpoint import mosquitto_tls_conf
from tests.support.servers import InfluxDB1, Mosquitto
from tests.support.service_proc import ServiceProcess, write_settings

pytestmark = pytest.mark.integration

N_SENSORS = 6
N_READINGS = 300
MQTT_PASSWORD = "mqtt-S3cret-7f1c2a"


def _client(client_id: str) -> mqtt.Client:
    return mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311
    )


def tls_client(pki: Pki, pair: KeyPair | None, client_id: str) -> mqtt.Client:
    client = _client(client_id)
    client.tls_set(
        ca_certs=str(pki.ca_cert),
        certfile=str(pair.cert) if pair else None,
        keyfile=str(pair.key) if pair else None,
    )
    return client


def connect_rc(client: mqtt.Client, port: int, timeout_s: float = 10.0) -> str:
    """``"ok"``, the broker's refusal reason, or the TLS/socket error text."""
    result: list[str] = []
    done = threading.Event()

    def on_connect(c: mqtt.Client, u: object, flags: object, rc: object, props: object) -> None:
        result.append("refused: " + str(rc) if getattr(rc, "is_failure", False) else "ok")
        done.set()

    def on_disconnect(c: mqtt.Client, u: object, flags: object, rc: object, p: object) -> None:
        result.append(f"closed: {rc}")
        done.set()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    try:
        client.connect("127.0.0.1", port, keepalive=10)
    except OSError as exc:  # ssl.SSLError included: the handshake failed
        return f"error: {exc}"
    client.loop_start()
    done.wait(timeout_s)
    client.disconnect()
    client.loop_stop()
    return result[0] if result else "error: no CONNACK"


def publish_confirmed(client: mqtt.Client, port: int, messages: list[tuple[str, bytes]]) -> int:
    client.max_inflight_messages_set(200)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(t, p, qos=1) for t, p in messages]
    for info in infos:
        info.wait_for_publish(timeout=60)
    n = sum(1 for info in infos if info.is_published())
    client.disconnect()
    client.loop_stop()
    return n


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def tls_broker(tmp_path: Path, pki: Pki) -> Mosquitto:
    server = Mosquitto(tmp_path / "mosquitto-tls", extra_conf=mosquitto_tls_conf(pki))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def password_broker(tmp_path: Path) -> Mosquitto:
    workdir = tmp_path / "mosquitto-auth"
    workdir.mkdir(parents=True)
    passwords = workdir / "passwd"
    for user, password in (("envmon", MQTT_PASSWORD), ("sensor", "sensor-pw")):
        args = ["mosquitto_passwd", "-b", str(passwords), user, password]
        if not passwords.exists():
            args.insert(1, "-c")
        subprocess.run(args, check=True, capture_output=True)
    server = Mosquitto(workdir, extra_conf=f"allow_anonymous false\npassword_file {passwords}\n")
    server.start()
    yield server
    server.stop()


class TestMqttTls:
    def test_broker_refuses_clients_without_a_certificate_of_its_ca(
        self, tls_broker: Mosquitto, pki: Pki
    ) -> None:
        """The CA's client cert connects; no cert, a rogue CA's cert or plain TCP is refused."""
        assert connect_rc(tls_client(pki, pki.client, "good"), tls_broker.port) == "ok"
        assert connect_rc(tls_client(pki, None, "nocert"), tls_broker.port) != "ok"
        assert connect_rc(tls_client(pki, pki.rogue_client, "rogue"), tls_broker.port) != "ok"
        assert connect_rc(_client("plain"), tls_broker.port) != "ok"

    def test_envmon_over_tls_with_client_certificate_stores_every_reading(
        self, tmp_path: Path, tls_broker: Mosquitto, influxdb: InfluxDB1, pki: Pki
    ) -> None:
        """envmon connects with its client certificate and stores all 300 readings exactly."""
        facility = write_facility(tmp_path / "facility.toml", N_SENSORS)
        config = write_settings(tmp_path / "svc", tls_broker, facility, influx=influxdb)
        text = config.read_text().replace(
            "[mqtt]\n",
            "[mqtt]\ntls = true\n"
            f'ca_file = "{pki.ca_cert}"\ncert_file = "{pki.client.cert}"\n'
            f'key_file = "{pki.client.key}"\n',
            1,
        )
        config.write_text(text)
        svc = ServiceProcess(config, tmp_path / "envmon.log")
        try:
            svc.start()
            sent = readings(N_SENSORS, N_READINGS)
            publisher = tls_client(pki, pki.client, "sensor-gw")
            n = publish_confirmed(publisher, tls_broker.port, [(r.topic, r.payload) for r in sent])
            assert n == N_READINGS
            assert wait_for_count(influxdb, N_READINGS, timeout_s=60) == N_READINGS
            assert influx_points(influxdb) == expected_points(sent)
            code, _ = svc.terminate()
            assert code == 0
        finally:
            svc.ensure_stopped()

    def test_envmon_with_a_rogue_certificate_is_refused_and_says_why(
        self, tmp_path: Path, tls_broker: Mosquitto, influxdb: InfluxDB1, pki: Pki
    ) -> None:
        """With another CA's certificate envmon stays up and logs that it cannot connect."""
        facility = write_facility(tmp_path / "facility.toml", N_SENSORS)
        config = write_settings(tmp_path / "svc", tls_broker, facility, influx=influxdb)
        config.write_text(
            config.read_text().replace(
                "[mqtt]\n",
                "[mqtt]\ntls = true\n"
                f'ca_file = "{pki.ca_cert}"\ncert_file = "{pki.rogue_client.cert}"\n'
                f'key_file = "{pki.rogue_client.key}"\n',
                1,
            )
        )
        svc = ServiceProcess(config, tmp_path / "envmon.log")
        try:
            svc.start(wait_for="envmon started")
            svc.wait_log("MQTT", timeout_s=20)
            time.sleep(3)
            assert svc.alive()
            log = svc.log()
            assert "MQTT connected" not in log
            assert "cannot connect" in log or "disconnected" in log or "refused" in log
            code, _ = svc.terminate()
            assert code == 0
        finally:
            svc.ensure_stopped()


class TestMqttPassword:
    def test_broker_refuses_anonymous_and_wrong_password(self, password_broker: Mosquitto) -> None:
        """The password broker accepts a right password and refuses anonymous or wrong ones."""
        good = _client("good")
        good.username_pw_set("envmon", MQTT_PASSWORD)
        wrong = _client("wrong")
        wrong.username_pw_set("envmon", "not-the-password")
        assert connect_rc(good, password_broker.port) == "ok"
        assert connect_rc(wrong, password_broker.port) != "ok"
        assert connect_rc(_client("anon"), password_broker.port) != "ok"

    def test_envmon_with_password_file_stores_every_reading_and_never_logs_it(
        self, tmp_path: Path, password_broker: Mosquitto, influxdb: InfluxDB1
    ) -> None:
        """envmon logs in from password_file, stores all readings; no output shows it."""
        facility = write_facility(tmp_path / "facility.toml", N_SENSORS)
        secret = tmp_path / "mqtt_password"
        secret.write_text(MQTT_PASSWORD + "\n")
        config = write_settings(tmp_path / "svc", password_broker, facility, influx=influxdb)
        config.write_text(
            config.read_text().replace(
                "[mqtt]\n", f'[mqtt]\nusername = "envmon"\npassword_file = "{secret}"\n', 1
            )
        )
        check = subprocess.run(
            [sys.executable, "-m", "envmon.cli", "check-config", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert "password set" in check.stdout
        svc = ServiceProcess(config, tmp_path / "envmon.log")
        try:
            svc.start()
            sent = readings(N_SENSORS, N_READINGS)
            publisher = _client("sensor-gw")
            publisher.username_pw_set("sensor", "sensor-pw")
            n = publish_confirmed(
                publisher, password_broker.port, [(r.topic, r.payload) for r in sent]
            )
            assert n == N_READINGS
            assert wait_for_count(influxdb, N_READINGS, timeout_s=60) == N_READINGS
            assert influx_points(influxdb) == expected_points(sent)
            code, _ = svc.terminate()
            assert code == 0
        finally:
            svc.ensure_stopped()
        outputs = svc.log() + check.stdout + check.stderr
        assert MQTT_PASSWORD not in outputs

    def test_envmon_with_a_wrong_password_stays_up_and_says_refused(
        self, tmp_path: Path, password_broker: Mosquitto, influxdb: InfluxDB1
    ) -> None:
        """A wrong MQTT password: envmon keeps running, logs the refusal, not the password."""
        facility = write_facility(tmp_path / "facility.toml", N_SENSORS)
        wrong = "wrong-Pa55word-e91d"
        config = write_settings(tmp_path / "svc", password_broker, facility, influx=influxdb)
        config.write_text(
            config.read_text().replace(
                "[mqtt]\n", f'[mqtt]\nusername = "envmon"\npassword = "{wrong}"\n', 1
            )
        )
        svc = ServiceProcess(config, tmp_path / "envmon.log")
        try:
            svc.start(wait_for="refused")
            assert svc.alive()
            assert "MQTT connected" not in svc.log()
            code, _ = svc.terminate()
            assert code == 0
        finally:
            svc.ensure_stopped()
        assert wrong not in svc.log()
