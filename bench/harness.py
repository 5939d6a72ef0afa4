"""What every benchmark phase shares: the load generator, the fleet, envmon's process.

The fleet is tests/support/fleet.py's (rooms of 4 Grade C sensors, kinds cycling
over particles, climate, pressure and equipment, no limit ever crossed) plus
``ALARM_ROOMS`` Grade A rooms with one particle counter each, for the
alarm-latency probe. Every phase publishes its readings
from its own base time, so InfluxDB counts per phase are exact.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

BENCH_DIR: Final = Path(__file__).resolve().parent
REPO_DIR: Final = BENCH_DIR.parent
sys.path.insert(0, str(REPO_DIR))

from tests.support.certs import Pki  # noqa: E402
from tests.support.fleet import FIELDS_BY_KIND, alarm_rooms_toml, facility_toml  # noqa: E402
from tests.support.servers import InfluxDB1  # noqa: E402

LOADGEN_SRC: Final = BENCH_DIR / "loadgen.c"
LOADGEN_BIN: Final = BENCH_DIR / "build" / "loadgen"
ALARM_ROOMS: Final = 600
"""Grade A rooms with one particle counter each; an injection raises an alarm in a
room of its own: rooms 0-199 for the latency phase at 5 000/s, 200-399 for the
steady 300/s phase."""
SITE: Final = "site1"
HOUR_MS: Final = 3_600_000
"""Each phase publishes from an hour of event time of its own."""
CLK_TCK: Final = os.sysconf("SC_CLK_TCK")
# One field per measurement that every reading of that kind has.
COUNTED_FIELD: Final = {kind: fields[0] for kind, fields in FIELDS_BY_KIND.items()}


def build_loadgen() -> Path:
    """Compile bench/loadgen.c (needs gcc and libmosquitto-dev) when it changed."""
    if LOADGEN_BIN.exists() and LOADGEN_BIN.stat().st_mtime >= LOADGEN_SRC.stat().st_mtime:
        return LOADGEN_BIN
    if shutil.which("gcc") is None or not Path("/usr/include/mosquitto.h").exists():
        raise SystemExit("bench: loadgen needs gcc and libmosquitto-dev (apt-get install ...)")
    LOADGEN_BIN.parent.mkdir(exist_ok=True)
    subprocess.run(
        [
            "gcc",
            "-O2",
            "-Wall",
            "-o",
            str(LOADGEN_BIN),
            str(LOADGEN_SRC),
            "-lmosquitto",
            "-lpthread",
        ],
        check=True,
    )
    return LOADGEN_BIN


def bench_settings(
    workdir: Path,
    broker_port: int,
    influx_url: str,
    facility: Path,
    database: str,
    client_id: str = "envmon-bench",
    mqtt_extra: str = "",
    name: str = "envmon.toml",
) -> Path:
    """envmon.toml for the bench: the shipped defaults, except addresses, paths and a
    2 s maximum retry backoff (so the outage phase does not wait 30 s for a probe).
    ``mqtt_extra`` goes into ``[mqtt]`` (TLS keys, ``reader``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / name
    path.write_text(
        f"""[mqtt]
host = "127.0.0.1"
port = {broker_port}
client_id = "{client_id}"
topics = ["fac/#"]
{mqtt_extra}

[influx]
url = "{influx_url}"
api = "v1"
database = "{database}"
retry_max_s = 2

[storage]
state_dir = "{workdir / "state"}"

[facility]
file = "{facility}"
"""
    )
    return path


def facility_text(n_sensors: int) -> str:
    """The fleet's facility file plus the Grade A alarm-probe rooms."""
    return facility_toml(n_sensors, site=SITE) + "\n" + alarm_rooms_toml(ALARM_ROOMS)


@dataclass(frozen=True)
class LoadResult:
    published: int
    acked: int
    t_start_ns: int
    t_acked_ns: int

    @property
    def rate_per_s(self) -> float:
        return self.acked / max((self.t_acked_ns - self.t_start_ns) / 1e9, 1e-9)


class Load:
    """One fleet's readings, published by ``procs`` loadgen processes in parallel."""

    def __init__(
        self,
        port: int,
        count: int,
        sensors: int,
        start_ms: int,
        *,
        rate_per_s: float = 0.0,
        procs: int = 1,
        tag: str = "lg",
        pki: Pki | None = None,
    ) -> None:
        if sensors % procs:
            raise ValueError("sensors must divide among loadgen processes (per-sensor order)")
        self.count = count
        self._procs: list[subprocess.Popen[str]] = []
        binary = build_loadgen()
        for j in range(procs):
            n = len(range(j, count, procs))
            self._procs.append(
                subprocess.Popen(
                    [
                        str(binary),
                        "--port",
                        str(port),
                        "--count",
                        str(n),
                        "--sensors",
                        str(sensors),
                        "--start-ms",
                        str(start_ms),
                        "--rate",
                        str(rate_per_s / procs),
                        "--offset",
                        str(j),
                        "--stride",
                        str(procs),
                        "--client-id",
                        f"{tag}-{j}",
                        *_tls_args(pki),
                    ],
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )

    def wait(self, timeout_s: float = 600.0) -> LoadResult:
        results = []
        for proc in self._procs:
            out, _ = proc.communicate(timeout=timeout_s)
            results.append(json.loads(out.strip().splitlines()[-1]))
        return LoadResult(
            published=sum(r["published"] for r in results),
            acked=sum(r["acked"] for r in results),
            t_start_ns=min(r["t_start_ns"] for r in results),
            t_acked_ns=max(r["t_acked_ns"] for r in results),
        )


def _tls_args(pki: Pki | None) -> list[str]:
    """loadgen's TLS options: the test CA and its client certificate."""
    if pki is None:
        return []
    client = pki.client
    return ["--cafile", str(pki.ca_cert), "--cert", str(client.cert), "--key", str(client.key)]


def envmon_tls_keys(pki: Pki) -> str:
    """``[mqtt]`` keys for envmon on the broker's TLS listener with the test client certificate."""
    return (
        f'tls = true\nca_file = "{pki.ca_cert}"\n'
        f'cert_file = "{pki.client.cert}"\nkey_file = "{pki.client.key}"\n'
    )


def stored_count(influx: InfluxDB1, start_ms: int, end_ms: int) -> int:
    """Readings stored with start_ms <= ts < end_ms, over the fleet's measurements."""
    where = f"WHERE time >= {start_ms}ms AND time < {end_ms}ms"
    return sum(influx.count(kind, field, where) for kind, field in COUNTED_FIELD.items())


def wait_stored(
    influx: InfluxDB1,
    start_ms: int,
    end_ms: int,
    n: int,
    *,
    poll_s: float = 0.2,
    stall_s: float = 30.0,
) -> tuple[int, float]:
    """Poll until n readings are stored or nothing new came for stall_s: (count, when)."""
    got, last_change = -1, time.monotonic()
    while True:
        now = stored_count(influx, start_ms, end_ms)
        t = time.time()
        if now != got:
            got, last_change = now, time.monotonic()
        if got >= n or time.monotonic() - last_change > stall_s:
            return got, t
        time.sleep(poll_s)


def cpu_ms_per_1000(cpu_s: float, wall_s: float, rate_per_s: float) -> float:
    """CPU milliseconds per 1 000 readings, from CPU seconds over ``wall_s`` at a steady rate."""
    return 1000 * cpu_s / (wall_s * rate_per_s / 1000)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_mb(pid: int) -> dict[str, float]:
    """VmHWM (peak RSS) and VmRSS of a process, MiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0]) / 1024
    return out


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])
