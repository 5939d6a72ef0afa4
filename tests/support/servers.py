"""Real Mosquitto, InfluxDB 1.x and VictoriaMetrics for tests.

Each server runs from its Debian binary on free loopback ports with its own
config and data directory under a temp dir, and is stopped by PID. A server
can be stopped and started again on the same ports and data (fault tests).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(
    port: int, timeout_s: float = 20.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


class _Server:
    name = "server"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"{self.name}.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    @property
    def port(self) -> int:
        raise NotImplementedError

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        try:
            wait_port(self.port, proc=self.proc)
            self.wait_ready()
        except (OSError, RuntimeError, TimeoutError):
            self.stop()
            raise RuntimeError(f"{self.name} did not start; log:\n{self.log_tail()}") from None

    def wait_ready(self) -> None:
        pass

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


class Mosquitto(_Server):
    name = "mosquitto"

    def __init__(self, workdir: Path, extra_conf: str = "") -> None:
        super().__init__(workdir)
        self._port = free_port()
        self.extra_conf = extra_conf
        self.conf_path = workdir / "mosquitto.conf"

    @property
    def port(self) -> int:
        return self._port

    def command(self) -> list[str]:
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        # Unlimited queue: readings published while envmon is down must wait
        # for it, not be dropped by the broker's default 1000-message cap.
        self.conf_path.write_text(
            f"listener {self._port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {data}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 0\n"
            "max_inflight_messages 0\n"
            "message_size_limit 1048576\n"
            # As root, mosquitto otherwise drops to its own user, which cannot
            # write the persistence file into a root-owned temp dir: sessions
            # would silently not survive a broker restart.
            f"{'user root' if os.geteuid() == 0 else ''}\n"
            f"{self.extra_conf}\n"
        )
        return [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(self.conf_path)]


class InfluxDB1(_Server):
    """InfluxDB 1.x (Debian's 1.6.7): the v1 ``/write`` and InfluxQL ``/query`` API."""

    name = "influxd"

    def __init__(self, workdir: Path, database: str = "envmon", auth: bool = False) -> None:
        super().__init__(workdir)
        self._port = free_port()
        self._rpc_port = free_port()
        self.database = database
        self.auth = auth
        self.url = f"http://127.0.0.1:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    def command(self) -> list[str]:
        conf = self.workdir / "influxdb.conf"
        d = self.workdir
        conf.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "127.0.0.1:{self._rpc_port}"\n'
            f'[meta]\n  dir = "{d}/meta"\n'
            f'[data]\n  dir = "{d}/data"\n  wal-dir = "{d}/wal"\n'
            "  query-log-enabled = false\n  trace-logging-enabled = false\n"
            '  wal-fsync-delay = "0s"\n'
            "[monitor]\n  store-enabled = false\n"
            f'[http]\n  bind-address = "127.0.0.1:{self._port}"\n'
            f"  auth-enabled = {'true' if self.auth else 'false'}\n"
            "  log-enabled = false\n"
            "  max-body-size = 0\n"
            "[continuous_queries]\n  enabled = false\n"
        )
        return [shutil.which("influxd") or "/usr/bin/influxd", "-config", str(conf)]

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as r:
                    if r.status == 204:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        raise TimeoutError("influxd /ping")

    def query(
        self, q: str, db: str | None = None, user: str | None = None, password: str | None = None
    ) -> dict:
        params = {"q": q, "db": db or self.database, "epoch": "ns"}
        url = f"{self.url}/query"
        if user is not None:
            # InfluxDB 1.x reads u/p from the URL only, not from a form body.
            url += "?" + urllib.parse.urlencode({"u": user, "p": password or ""})
        data = urllib.parse.urlencode(params).encode()
        with urllib.request.urlopen(url, data=data, timeout=30) as r:
            return json.loads(r.read())

    def create_database(self, name: str | None = None, **auth: str) -> None:
        self.query(f'CREATE DATABASE "{name or self.database}"', **auth)

    def rows(self, q: str) -> list[list]:
        """All rows of the first series of the first result (empty if none)."""
        res = self.query(q)["results"][0]
        if "error" in res:
            raise RuntimeError(res["error"])
        out: list[list] = []
        for series in res.get("series", []):
            out.extend(series["values"])
        return out

    def count(self, measurement: str, field: str, where: str = "") -> int:
        rows = self.rows(f'SELECT count("{field}") FROM "{measurement}" {where}')
        return int(rows[0][1]) if rows else 0


class VictoriaMetrics(_Server):
    """VictoriaMetrics: accepts InfluxDB line protocol on ``/api/v2/write``."""

    name = "victoria-metrics"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self._port = free_port()
        self.url = f"http://127.0.0.1:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    def command(self) -> list[str]:
        return [
            shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics",
            f"-storageDataPath={self.workdir / 'data'}",
            f"-httpListenAddr=127.0.0.1:{self._port}",
            "-dedup.minScrapeInterval=1ms",
            "-search.disableCache",
            "-retentionPeriod=100y",
            "-search.latencyOffset=0s",
            "-loggerLevel=ERROR",
        ]

    def flush(self) -> None:
        urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10).read()

    def export(self, match: str) -> list[dict]:
        """Every series matching ``match`` with all its raw samples."""
        self.flush()
        q = urllib.parse.urlencode({"match[]": match, "start": "0"})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{q}", timeout=60) as r:
            return [json.loads(line) for line in r.read().splitlines() if line.strip()]


def have(binary: str) -> bool:
    return shutil.which(binary) is not None or Path(f"/usr/sbin/{binary}").exists()
