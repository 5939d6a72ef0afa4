"""One benchmark run: fresh Mosquitto, InfluxDB 1.x and envmon; every figure once.

Phases, in order (each with its own base time, so its stored count is exact):

1. loadgen alone (no subscriber): the publisher's ceiling;
2. ``mosquitto_sub -q 1``: the broker's ceiling;
3. ``bench/paho_ceiling.py``: the Python ceiling; and its CPU per 1 000
   messages at a steady 1 000/s (what paho alone costs, for the CPU target);
4. envmon (10 000 sensors configured; one reading per sensor first, so every
   channel exists) at full rate: ingest rate and loss;
5. envmon at a steady 1 000 readings/s: CPU per 1 000 readings;
6. envmon at 5 000 readings/s with alarms injected: alarm latency;
6a. the same two with ``envmon console`` running and its live page open in
   Chromium (bench/console_phase.py): the figures with suffix ``_console``;
7. a steady 300 readings/s with alarms injected: envmon's alarm latency and a
   naive bridge's, side by side (bench/edge_phases.py);
8. InfluxDB stopped for ``outage_s`` at 1 000 readings/s, then started: spool
   drain rate while readings keep arriving; loss through the outage;
9. envmon's peak RSS (VmHWM) over phases 4-8;
10. a plain ingest as in 4 again, then envmon restarted on the broker's TLS
    listener (client certificates required): ingest rate and loss as in 4,
    the publisher on the plain listener, then on TLS too, each against that
    plain one (bench/edge_phases.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.alarm_probe import ENVMON, AlarmProbe, percentile, slowest
from bench.console_phase import console_side_by_side
from bench.edge_phases import steady_alarm_latency, tls_ingest
from bench.harness import (
    BENCH_DIR,
    HOUR_MS,
    Load,
    bench_settings,
    cpu_ms_per_1000,
    cpu_seconds,
    envmon_tls_keys,
    facility_text,
    memory_mb,
    wait_stored,
)
from tests.support.certs import make_pki
from tests.support.mqtt_endpoint import mosquitto_tls_conf
from tests.support.servers import InfluxDB1, Mosquitto, free_port
from tests.support.service_proc import ServiceProcess


@dataclass(frozen=True)
class RunConfig:
    sensors: int = 10_000
    ceiling_count: int = 200_000
    ingest_count: int = 200_000
    steady_s: float = 20.0
    alarm_rate: float = 5_000.0
    alarm_injections: int = 200
    steady_injections: int = 200
    """Alarms injected at a steady 300 readings/s (envmon against the naive bridge)."""
    """TLS ingest: loadgen publishes over TLS too (else on the plain listener)."""
    mqtt_reader: str | None = None
    """envmon's ``[mqtt] reader``; None leaves the key out (its default, "auto")."""
    outage_s: float = 30.0
    loadgen_procs: int = 1
    keep_dir: Path | None = None
    only: frozenset[str] = frozenset()
    """Run just these phases (names in ``PHASES``); empty runs them all."""
    console_viewer: str = "chromium"
    """What holds the console's live page open: "chromium" or "stream" (console_viewers.py)."""
    envmon_src: Path | None = None
    """Run the envmon of this source tree instead of the installed one."""


PHASES = ("ceilings", "ingest", "cpu", "latency", "console", "latency300", "spool", "tls")


class BenchRun:
    """Owns the servers of one run; ``measure()`` returns the run's figures."""

    def __init__(self, cfg: RunConfig, log: Any = print) -> None:
        self.cfg = cfg
        self.log = log
        root = cfg.keep_dir or Path(tempfile.mkdtemp(prefix="envmon-bench-"))
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.pki = make_pki(root / "pki")
        self.tls_port = free_port()
        self.broker = Mosquitto(
            root / "mosquitto",
            extra_conf=f"listener {self.tls_port} 127.0.0.1\n" + mosquitto_tls_conf(self.pki),
        )
        self.influx = InfluxDB1(root / "influxdb")
        self.envmon: ServiceProcess | None = None
        self.envmon_logs: list[Path] = []
        # Each phase publishes an hour of event time after the previous one.
        self._base_ms = (int(time.time()) - 24 * 3600) * 1000
        self._phase = 0
        self.figures: dict[str, float] = {}

    def next_base(self) -> int:
        """The start (ms) of the next phase's hour of event time."""
        self._phase += 1
        return self._base_ms + self._phase * HOUR_MS

    def load(
        self, count: int, base_ms: int, rate: float = 0.0, tag: str = "lg", tls: bool = False
    ) -> Load:
        """loadgen publishing ``count`` fleet readings from ``base_ms`` (over TLS: to the
        TLS listener with the client certificate)."""
        return Load(
            self.tls_port if tls else self.broker.port,
            count,
            self.cfg.sensors,
            base_ms,
            rate_per_s=rate,
            procs=self.cfg.loadgen_procs,
            tag=tag,
            pki=self.pki if tls else None,
        )

    def measure(self) -> dict[str, float]:
        self.broker.start()
        self.influx.start()
        self.influx.create_database()
        wanted = self.cfg.only or frozenset(PHASES)
        try:
            if "ceilings" in wanted:
                self._loadgen_ceiling()
                self._broker_ceiling()
                self._paho_ceiling()
                self._paho_steady_cpu()
            self.start_envmon()
            self.warm_up()
            if "ingest" in wanted:
                self._ingest()
            if "cpu" in wanted:
                self._steady_cpu()
            if "latency" in wanted:
                self._alarm_latency()
            if "console" in wanted:
                console_side_by_side(self)
            if "latency300" in wanted:
                steady_alarm_latency(self)
            if "spool" in wanted:
                self._spool_drain()
            self.figures["rss_peak_mb"] = memory_mb(self.pid())["VmHWM"]
            if "tls" in wanted:
                tls_ingest(self)
            self._check_log()
        finally:
            if self.envmon is not None:
                self.envmon.ensure_stopped()
            self.influx.stop()
            self.broker.stop()
            if self.cfg.keep_dir is None:
                shutil.rmtree(self.root, ignore_errors=True)
        return self.figures

    # -- ceilings ---------------------------------------------------------------------

    def _loadgen_ceiling(self) -> None:
        result = self.load(self.cfg.ceiling_count, self.next_base(), tag="lg-ceiling").wait()
        self.figures["loadgen_per_s"] = result.rate_per_s
        self.log(f"  loadgen alone: {result.rate_per_s:,.0f}/s")

    def _broker_ceiling(self) -> None:
        n = self.cfg.ceiling_count
        sub = subprocess.Popen(
            [
                "mosquitto_sub",
                "-p",
                str(self.broker.port),
                "-q",
                "1",
                "-t",
                "fac/#",
                "-C",
                str(n),
                "-i",
                "bench-mosquitto-sub",
                "-F",
                "%m",
            ],
            stdout=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # subscribed (mosquitto_sub has no ready signal)
        load = self.load(n, self.next_base(), tag="lg-broker")
        sub.wait(timeout=600)
        done = time.time_ns()
        result = load.wait()
        rate = n / ((done - result.t_start_ns) / 1e9)
        self.figures["broker_per_s"] = rate
        self.log(f"  mosquitto_sub: {rate:,.0f}/s")

    def _paho_subscriber(self, n: int) -> subprocess.Popen[str]:
        """bench/paho_ceiling.py receiving ``n`` messages, subscribed when this returns."""
        sub = subprocess.Popen(
            [
                sys.executable,
                str(BENCH_DIR / "paho_ceiling.py"),
                "--port",
                str(self.broker.port),
                "--count",
                str(n),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert sub.stdout is not None
        if sub.stdout.readline().strip() != "ready":
            raise RuntimeError("paho_ceiling did not subscribe")
        return sub

    def _paho_ceiling(self) -> None:
        n = self.cfg.ceiling_count
        sub = self._paho_subscriber(n)
        load = self.load(n, self.next_base(), tag="lg-paho")
        out = sub.stdout.read()
        sub.wait(timeout=600)
        result = load.wait()
        got = json.loads(out.strip().splitlines()[-1])
        rate = got["received"] / ((got["t_last_ns"] - result.t_start_ns) / 1e9)
        self.figures["paho_per_s"] = rate
        self.log(f"  paho-mqtt bare: {rate:,.0f}/s")

    def _paho_steady_cpu(self) -> None:
        rate, seconds = 1000.0, self.cfg.steady_s
        n = int(rate * seconds)
        sub = self._paho_subscriber(n)
        cpu0 = cpu_seconds(sub.pid)
        self.load(n, self.next_base(), rate=rate, tag="lg-paho-steady").wait()
        time.sleep(0.2)
        cpu1 = cpu_seconds(sub.pid)
        sub.communicate(timeout=60)
        ms = 1000 * (cpu1 - cpu0) / (n / 1000)
        self.figures["paho_cpu_ms_per_1000"] = ms
        self.log(f"  paho-mqtt bare CPU at 1000/s: {ms:.1f} ms per 1000 messages")

    # -- envmon -----------------------------------------------------------------------

    def start_envmon(self, tls: bool = False) -> None:
        """``envmon run`` on the plain listener, or (again, same client id and state)
        on the TLS listener; a running one is stopped first."""
        if self.envmon is not None:
            self.envmon.terminate()
        facility = self.root / "facility.toml"
        facility.write_text(facility_text(self.cfg.sensors))
        mqtt_extra = f'reader = "{self.cfg.mqtt_reader}"\n' if self.cfg.mqtt_reader else ""
        if tls:
            mqtt_extra += envmon_tls_keys(self.pki)
        config = bench_settings(
            self.root / "envmon",
            self.tls_port if tls else self.broker.port,
            self.influx.url,
            facility,
            self.influx.database,
            mqtt_extra=mqtt_extra,
            name="envmon-tls.toml" if tls else "envmon.toml",
        )
        log = self.root / ("envmon-tls.log" if tls else "envmon.log")
        self.envmon_logs.append(log)
        self.envmon = ServiceProcess(config, log, src=self.cfg.envmon_src)
        self.envmon.start(timeout_s=120)

    def pid(self) -> int:
        assert self.envmon is not None and self.envmon.proc is not None
        return self.envmon.proc.pid

    def warm_up(self, tls: bool = False) -> None:
        """One reading per sensor, so the engine has every channel before measuring."""
        base = self.next_base()
        result = self.load(self.cfg.sensors, base, rate=5000.0, tag="lg-warm", tls=tls).wait()
        wait_stored(self.influx, base, base + HOUR_MS, result.acked)
        time.sleep(1.0)

    def _ingest(self) -> None:
        self.measure_ingest("ingest", tls=False)
        if "paho_per_s" in self.figures:
            self.figures["ingest_pct_of_paho"] = (
                100 * self.figures["ingest_per_s"] / (self.figures["paho_per_s"])
            )

    def measure_ingest(self, key: str, tls: bool) -> None:
        """``ingest_count`` readings as fast as loadgen goes: figures ``<key>_per_s``,
        ``_lost``, and envmon's and the broker's CPU per 1 000 readings."""
        n, base = self.cfg.ingest_count, self.next_base()
        assert self.broker.proc is not None
        pids = (self.pid(), self.broker.proc.pid)
        cpu0 = [cpu_seconds(pid) for pid in pids]
        result = self.load(n, base, tag=f"lg-{key}", tls=tls).wait()
        stored, done = wait_stored(self.influx, base, base + HOUR_MS, result.acked)
        envmon_cpu, broker_cpu = (cpu_seconds(pid) - c for pid, c in zip(pids, cpu0, strict=True))
        rate = stored / (done - result.t_start_ns / 1e9)
        self.figures.update(
            {
                f"{key}_per_s": rate,
                f"{key}_published": result.acked,
                f"{key}_stored": stored,
                f"{key}_lost": result.acked - stored,
                f"{key}_envmon_cpu_ms_per_1000": 1000 * envmon_cpu / (stored / 1000),
                f"{key}_broker_cpu_ms_per_1000": 1000 * broker_cpu / (stored / 1000),
            }
        )
        self.log(
            f"  {key}: {rate:,.0f}/s, {stored}/{result.acked} stored; CPU per 1000: envmon "
            f"{self.figures[f'{key}_envmon_cpu_ms_per_1000']:.1f} ms, broker "
            f"{self.figures[f'{key}_broker_cpu_ms_per_1000']:.1f} ms"
        )

    def _steady_cpu(self) -> None:
        rate, base, warmup_s = 1000.0, self.next_base(), 5.0
        n = int(rate * (self.cfg.steady_s + warmup_s))
        load = self.load(n, base, rate=rate, tag="lg-steady")
        time.sleep(warmup_s)
        # The broker and InfluxDB share the two cores and their caches: their CPU
        # meanwhile says how quiet the machine was while envmon's was measured.
        pids = (self.pid(), self.broker.proc.pid, self.influx.proc.pid)
        cpu0, t0 = [cpu_seconds(pid) for pid in pids], time.monotonic()
        result = load.wait()
        cpu1, t1 = [cpu_seconds(pid) for pid in pids], time.monotonic()
        envmon, broker, influx = (
            cpu_ms_per_1000(b - a, t1 - t0, rate) for a, b in zip(cpu0, cpu1, strict=True)
        )
        stored, _ = wait_stored(self.influx, base, base + HOUR_MS, result.acked)
        self.figures.update(
            cpu_ms_per_1000=envmon,
            steady_lost=result.acked - stored,
            steady_broker_cpu_ms_per_1000=broker,
            steady_influx_cpu_ms_per_1000=influx,
        )
        self.log(
            f"  CPU at 1000/s: {envmon:.1f} ms per 1000 readings "
            f"(meanwhile the broker {broker:.1f}, InfluxDB {influx:.1f})"
        )

    def _alarm_latency(self, first_room: int = 0) -> None:
        """Alarm latency at ``alarm_rate``, injecting in the probe rooms from ``first_room``."""
        cfg, base = self.cfg, self.next_base()
        interval_s = 0.075
        duration_s = 4.0 + cfg.alarm_injections * interval_s
        load = self.load(
            int(cfg.alarm_rate * duration_s), base, rate=cfg.alarm_rate, tag="lg-alarm"
        )
        probe = AlarmProbe(self.broker.port)
        try:
            time.sleep(2.0)
            res = probe.run(cfg.alarm_injections, interval_s, first_room)[ENVMON]
        finally:
            probe.close()
        result = load.wait()
        lat = res.latencies_ms
        self.log(f"  slowest alarms (ms, injection #): {slowest(res, 3)}")
        stored, _ = wait_stored(self.influx, base, base + HOUR_MS, result.acked)
        self.figures.update(
            alarm_p50_ms=percentile(lat, 50),
            alarm_p99_ms=percentile(lat, 99),
            alarm_max_ms=lat[-1] if lat else float("nan"),
            alarm_missed=res.injected - res.received,
            alarm_load_per_s=result.rate_per_s,
            alarm_load_lost=result.acked - stored,
        )
        self.log(
            f"  alarm latency at {cfg.alarm_rate:.0f}/s: p50 {percentile(lat, 50):.1f} ms, "
            f"p99 {percentile(lat, 99):.1f} ms, max {self.figures['alarm_max_ms']:.1f} ms, "
            f"{res.received}/{res.injected} seen"
        )

    def _spool_drain(self) -> None:
        """Drain = the backlog envmon reports when InfluxDB answers again, divided by
        the time from that log line to its "spool drained" line (both polled here)."""
        assert self.envmon is not None
        rate, base, outage_s = 1000.0, self.next_base(), self.cfg.outage_s
        self.influx.stop()
        n = int(rate * (outage_s + 30))
        load = self.load(n, base, rate=rate, tag="lg-drain")
        time.sleep(outage_s)
        skip = len(self.envmon.log())
        self.influx.start()
        back = time.monotonic()
        backlog, started = self._await_log(skip, "answers again; ")
        _, finished = self._await_log(skip, "spool drained:")
        lines = int(backlog.split("answers again; ")[1].split()[0])
        drain = lines / max(finished - started, 1e-3)
        result = load.wait()
        stored, _ = wait_stored(self.influx, base, base + HOUR_MS, result.acked)
        self.figures.update(
            spool_backlog_lines=lines,
            spool_drain_per_s=drain,
            spool_drain_x_arrival=drain / rate,
            spool_recovery_s=finished - back,
            outage_lost=result.acked - stored,
        )
        self.log(
            f"  spool drain: {lines} lines in {finished - started:.2f} s = {drain:,.0f}/s "
            f"({drain / rate:.1f}x arrival); {stored}/{result.acked} stored"
        )

    def _await_log(self, skip: int, text: str) -> tuple[str, float]:
        """The first log line after offset ``skip`` containing ``text``, and when seen."""
        assert self.envmon is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for line in self.envmon.log()[skip:].splitlines():
                if text in line:
                    return line, time.monotonic()
            time.sleep(0.02)
        raise TimeoutError(f"no {text!r} in the envmon log")

    def _check_log(self) -> None:
        text = "".join(log.read_text(errors="replace") for log in self.envmon_logs)
        errors = [x for x in text.splitlines() if x.startswith(("ERROR", "CRITICAL", "Traceback"))]
        self.figures["envmon_log_errors"] = len(errors)
        for x in errors[:5]:
            self.log(f"  envmon log: {x}")
