"""Run ``envmon run`` as a real subprocess against test servers, and publish to it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import paho.mqtt.client as mqtt

from tests.support.certs import Pki
from tests.support.mqtt_endpoint import configure_tls
from tests.support.servers import InfluxDB1, Mosquitto, VictoriaMetrics


def write_settings(
    workdir: Path,
    broker: Mosquitto,
    facility: Path,
    *,
    influx: InfluxDB1 | None = None,
    victoria: VictoriaMetrics | None = None,
    extra: str = "",
    client_id: str = "envmon-test",
    mqtt_extra: str = "",
    storage: str = "",
) -> Path:
    """envmon.toml for a test: ``extra`` is appended (whole sections), ``mqtt_extra``
    goes into ``[mqtt]`` (e.g. ``Endpoint.toml()``, ``reader = "paho"``), ``storage``
    into ``[storage]``."""
    workdir.mkdir(parents=True, exist_ok=True)
    if influx is not None:
        influx_section = f'url = "{influx.url}"\napi = "v1"\ndatabase = "{influx.database}"\n'
    elif victoria is not None:
        influx_section = (
            f'url = "{victoria.url}"\napi = "v2"\nbucket = "envmon"\norg = "envmon"\n'
            'token = "unused"\n'
        )
    else:
        raise ValueError("need influx or victoria")
    path = workdir / "envmon.toml"
    path.write_text(
        f"""
[mqtt]
host = "127.0.0.1"
port = {broker.port}
client_id = "{client_id}"
topics = ["fac/#"]
reconnect_min_s = 0.2
reconnect_max_s = 2
{mqtt_extra}
[influx]
{influx_section}
retry_min_s = 0.2
retry_max_s = 2
timeout_s = 3

[storage]
state_dir = "{workdir / "state"}"
{storage}

[facility]
file = "{facility}"

[alarms]
stale_check_interval_s = 1

[log]
level = "INFO"
stats_interval_s = 2
{extra}
"""
    )
    return path


class ServiceProcess:
    """``envmon run --config FILE`` with its stderr captured to a log file.

    ``src``: run the envmon of that source tree (e.g. an older commit's
    ``git archive``) instead of the installed one; the benchmark compares trees.
    """

    def __init__(self, config: Path, log_path: Path, src: Path | None = None) -> None:
        self.config = config
        self.log_path = log_path
        self.src = src
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, wait_for: str = "MQTT connected", timeout_s: float = 30.0) -> None:
        log = self.log_path.open("ab")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("NOTIFY_SOCKET", None)
        if self.src is not None:
            # `python -m` puts its working directory first on sys.path, then PYTHONPATH.
            env["PYTHONPATH"] = str(self.src)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "envmon.cli", "run", "--config", str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.src,
        )
        log.close()
        self.wait_log(wait_for, timeout_s)

    def wait_log(self, text: str, timeout_s: float = 30.0, count: int = 1) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.log().count(text) >= count:
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"envmon exited with {self.proc.returncode}:\n{self.log()}")
            time.sleep(0.1)
        raise TimeoutError(f"no {text!r} in the envmon log after {timeout_s}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def terminate(self, timeout_s: float = 15.0) -> tuple[int, float]:
        """SIGTERM; returns (exit code, seconds to exit)."""
        assert self.proc is not None
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout_s)
        self.proc = None
        return code, time.monotonic() - t0

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ensure_stopped(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


class Publisher:
    """A QoS-1 MQTT publisher that confirms every PUBACK."""

    def __init__(
        self, port: int, client_id: str = "test-publisher", pki: Pki | None = None
    ) -> None:
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311
        )
        configure_tls(self.client, pki)
        self.client.max_inflight_messages_set(500)
        self.client.max_queued_messages_set(0)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish_all(
        self,
        messages: Sequence[tuple[str, bytes]],
        rate_per_s: float | None = None,
        stop: threading.Event | None = None,
        retain: bool = False,
    ) -> int:
        """Publish in order; returns how many were confirmed by the broker."""
        infos = []
        t0 = time.monotonic()
        for i, (topic, payload) in enumerate(messages):
            if stop is not None and stop.is_set():
                break
            if rate_per_s:
                due = t0 + i / rate_per_s
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            infos.append(self.client.publish(topic, payload, qos=1, retain=retain))
        for info in infos:
            info.wait_for_publish(timeout=60)
        return sum(1 for info in infos if info.is_published())

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
