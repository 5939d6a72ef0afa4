"""envmon run speaks sd_notify: READY, WATCHDOG only while ingest progresses, STOPPING."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from envmon.simulate.command import run_simulate
from tests.support.servers import InfluxDB1, Mosquitto
from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
# ingest.stuck_after_s: ingest is stuck after this long without a durable reading.
STUCK_AFTER_S = 8.0
# The simulator publishes this long: readings must keep arriving after InfluxDB is
# frozen, long enough that some are still pending when the stuck time runs out.
# The watchdog then starves whether or not more arrive, and resumes without them.
PUBLISH_S = STUCK_AFTER_S + 10


class NotifySocket:
    """The systemd side of $NOTIFY_SOCKET: collects (monotonic time, message) pairs."""

    def __init__(self) -> None:
        # AF_UNIX paths are limited to 108 bytes: keep it short, not under tmp_path.
        self.dir = Path(tempfile.mkdtemp(prefix="envmon-notify-"))
        self.path = self.dir / "notify"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            for line in data.decode().splitlines():
                self.messages.append((time.monotonic(), line))

    def times_of(self, message: str, since: float = 0.0) -> list[float]:
        return [t for t, m in list(self.messages) if m == message and t >= since]

    def wait_for(self, message: str, timeout_s: float, since: float = 0.0) -> float:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = self.times_of(message, since)
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no {message} within {timeout_s} s; got {self.messages[-5:]}")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def notify() -> Iterator[NotifySocket]:
    sock = NotifySocket()
    yield sock
    sock.close()


def envmon_settings(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB1) -> Path:
    path = tmp_path / "envmon.toml"
    path.write_text(
        f'[mqtt]\nhost = "127.0.0.1"\nport = {mosquitto.port}\nclient_id = "envmon-wd"\n'
        f'[influx]\nurl = "{influxdb.url}"\napi = "v1"\ndatabase = "envmon"\n'
        # A write to a frozen InfluxDB hangs this long: long enough to be "stuck".
        "timeout_s = 600\n"
        f'[storage]\nstate_dir = "{tmp_path / "state"}"\n'
        f'[facility]\nfile = "{ROOT / "config" / "facility.toml"}"\n'
        f"[ingest]\nstuck_after_s = {STUCK_AFTER_S}\n"
    )
    return path


def start_envmon(config: Path, notify: NotifySocket, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["NOTIFY_SOCKET"] = str(notify.path)
    env["WATCHDOG_USEC"] = "2000000"  # WatchdogSec=2: envmon should ping every second
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "envmon.cli", "run", "--config", str(config)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def publish_in_background(mosquitto: Mosquitto, seconds: float) -> threading.Thread:
    def publish() -> None:
        run_simulate(
            config=None, host="127.0.0.1", port=mosquitto.port, rooms=None, interval_s=0.5,
            scenario="normal", rate=None, duration_s=seconds, count=None, seed=1,
        )  # fmt: skip

    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    return thread


@pytest.mark.integration
@pytest.mark.slow
class TestSystemdWatchdog:
    def test_watchdog_is_fed_while_healthy_and_starves_while_ingest_is_stuck(
        self,
        tmp_path: Path,
        mosquitto: Mosquitto,
        influxdb: InfluxDB1,
        notify: NotifySocket,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """READY then WATCHDOG every ~1 s; a frozen InfluxDB stops them; they resume; STOPPING."""
        config = envmon_settings(tmp_path, mosquitto, influxdb)
        # The simulator reads the facility from the same settings file.
        monkeypatch.setenv("ENVMON_CONFIG", str(config))
        log = tmp_path / "envmon.log"
        proc = start_envmon(config, notify, log)
        assert influxdb.proc is not None
        influx_pid = influxdb.proc.pid
        frozen = False
        try:
            ready = notify.wait_for("READY=1", 30)
            wait_until(
                lambda: len(notify.times_of("WATCHDOG=1", since=ready)) >= 2,
                10,
                "two watchdog pings while healthy",
            )

            publisher = publish_in_background(mosquitto, PUBLISH_S)
            wait_until(
                lambda: influxdb.count("climate", "temperature") > 0,
                30,
                "simulated readings stored before InfluxDB is frozen",
            )
            os.kill(influx_pid, signal.SIGSTOP)  # writes hang: nothing becomes durable
            frozen = True
            frozen_at = time.monotonic()
            deadline = frozen_at + STUCK_AFTER_S + 30
            starved_since = None
            while time.monotonic() < deadline:
                time.sleep(1)
                pings = notify.times_of("WATCHDOG=1", since=frozen_at)
                last = pings[-1] if pings else frozen_at
                if time.monotonic() - last > 6:
                    starved_since = last
                    break
            assert starved_since is not None, "the watchdog was still fed with ingest stuck"
            assert starved_since - frozen_at >= STUCK_AFTER_S - 5, "starved before stuck"

            os.kill(influx_pid, signal.SIGCONT)
            frozen = False
            resumed_at = time.monotonic()
            notify.wait_for("WATCHDOG=1", 40, since=resumed_at)
            publisher.join(timeout=PUBLISH_S + 30)

            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
            notify.wait_for("STOPPING=1", 5)
            assert "not feeding the watchdog" in log.read_text()
        finally:
            if frozen:
                os.kill(influx_pid, signal.SIGCONT)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
