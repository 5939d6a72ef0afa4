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
7. InfluxDB stopped for ``outage_s`` at 1 000 readings/s, then started: spool
   drain rate while readings keep arriving; loss through the outage;
8. envmon's peak RSS (VmHWM) over the whole run.
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

from bench.alarm_probe import AlarmProbe, percentile
from bench.harness import (
    BENCH_DIR,
    Load,
    bench_settings,
    cpu_ms_per_1000,
    cpu_seconds,
    facility_text,
    memory_mb,
    wait_stored,
)
from tests.support.servers import InfluxDB1, Mosquitto
from tests.support.service_proc import ServiceProcess

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class RunConfig:
    sensors: int = 10_000
    ceiling_count: int = 200_000
    ingest_count: int = 200_000
    steady_s: float = 20.0
    alarm_rate: float = 5_000.0
    alarm_injections: int = 200
    outage_s: float = 30.0
    loadgen_procs: int = 1
    keep_dir: Path | None = None
    only: frozenset[str] = frozenset()
    """Run just these phases (names in ``PHASES``); empty runs them all."""
    envmon_src: Path | None = None
    """Run the envmon of this source tree instead of the installed one."""


PHASES = ("ceilings", "ingest", "cpu", "latency", "spool")


class BenchRun:
    """Owns the servers of one run; ``measure()`` returns the run's figures."""

    def __init__(self, cfg: RunConfig, log: Any = print) -> None:
        self.cfg = cfg
        self.log = log
        root = cfg.keep_dir or Path(tempfile.mkdtemp(prefix="envmon-bench-"))
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.broker = Mosquitto(root / "mosquitto")
        self.influx = InfluxDB1(root / "influxdb")
        self.envmon: ServiceProcess | None = None
        # Each phase publishes an hour of event time after the previous one.
        self._base_ms = (int(time.time()) - 24 * 3600) * 1000
        self._phase = 0
        self.figures: dict[str, float] = {}

    def next_base(self) -> int:
        """The start (ms) of the next phase's hour of event time."""
        self._phase += 1
        return self._base_ms + self._phase * HOUR_MS

    def _load(self, count: int, base_ms: int, rate: float = 0.0, tag: str = "lg") -> Load:
        procs = self.cfg.loadgen_procs
        return Load(
            self.broker.port,
            count,
            self.cfg.sensors,
            base_ms,
            rate_per_s=rate,
            procs=procs,
            tag=tag,
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
            self._start_envmon()
            self._warm_up()
            if "ingest" in wanted:
                self._ingest()
            if "cpu" in wanted:
                self._steady_cpu()
            if "latency" in wanted:
                self._alarm_latency()
            if "spool" in wanted:
                self._spool_drain()
            assert self.envmon is not None and self.envmon.proc is not None
            mem = memory_mb(self.envmon.proc.pid)
            self.figures["rss_peak_mb"] = mem["VmHWM"]
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
        result = self._load(self.cfg.ceiling_count, self.next_base(), tag="lg-ceiling").wait()
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
        load = self._load(n, self.next_base(), tag="lg-broker")
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
        load = self._load(n, self.next_base(), tag="lg-paho")
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
        self._load(n, self.next_base(), rate=rate, tag="lg-paho-steady").wait()
        time.sleep(0.2)
        cpu1 = cpu_seconds(sub.pid)
        sub.communicate(timeout=60)
        ms = 1000 * (cpu1 - cpu0) / (n / 1000)
        self.figures["paho_cpu_ms_per_1000"] = ms
        self.log(f"  paho-mqtt bare CPU at 1000/s: {ms:.1f} ms per 1000 messages")

    # -- envmon -----------------------------------------------------------------------

    def _start_envmon(self) -> None:
        facility = self.root / "facility.toml"
        facility.write_text(facility_text(self.cfg.sensors))
        config = bench_settings(
            self.root / "envmon", self.broker.port, self.influx.url, facility, self.influx.database
        )
        self.envmon = ServiceProcess(config, self.root / "envmon.log", src=self.cfg.envmon_src)
        self.envmon.start(timeout_s=120)

    def _pid(self) -> int:
        assert self.envmon is not None and self.envmon.proc is not None
        return self.envmon.proc.pid

    def _warm_up(self) -> None:
        """One reading per sensor, so the engine has every channel before measuring."""
        base = self.next_base()
        result = self._load(self.cfg.sensors, base, rate=5000.0, tag="lg-warm").wait()
        wait_stored(self.influx, base, base + HOUR_MS, result.acked)
        time.sleep(1.0)

    def _ingest(self) -> None:
        n, base = self.cfg.ingest_count, self.next_base()
        result = self._load(n, base, tag="lg-ingest").wait()
        stored, done = wait_stored(self.influx, base, base + HOUR_MS, result.acked)
        rate = stored / (done - result.t_start_ns / 1e9)
        self.figures.update(
            ingest_per_s=rate,
            ingest_published=result.acked,
            ingest_stored=stored,
            ingest_lost=result.acked - stored,
        )
        if "paho_per_s" in self.figures:
            self.figures["ingest_pct_of_paho"] = 100 * rate / self.figures["paho_per_s"]
        self.log(f"  envmon ingest: {rate:,.0f}/s, {stored}/{result.acked} stored")

    def _steady_cpu(self) -> None:
        rate, base, warmup_s = 1000.0, self.next_base(), 5.0
        n = int(rate * (self.cfg.steady_s + warmup_s))
        load = self._load(n, base, rate=rate, tag="lg-steady")
        time.sleep(warmup_s)
        cpu0, t0 = cpu_seconds(self._pid()), time.monotonic()
        result = load.wait()
        cpu1, t1 = cpu_seconds(self._pid()), time.monotonic()
        ms_per_1000 = cpu_ms_per_1000(cpu1 - cpu0, t1 - t0, rate)
        stored, _ = wait_stored(self.influx, base, base + HOUR_MS, result.acked)
        self.figures.update(cpu_ms_per_1000=ms_per_1000, steady_lost=result.acked - stored)
        self.log(f"  CPU at 1000/s: {ms_per_1000:.1f} ms per 1000 readings")

    def _alarm_latency(self) -> None:
        cfg, base = self.cfg, self.next_base()
        interval_s = 0.075
        duration_s = 4.0 + cfg.alarm_injections * interval_s
        load = self._load(
            int(cfg.alarm_rate * duration_s), base, rate=cfg.alarm_rate, tag="lg-alarm"
        )
        probe = AlarmProbe(self.broker.port)
        try:
            time.sleep(2.0)
            res = probe.run(cfg.alarm_injections, interval_s)
        finally:
            probe.close()
        result = load.wait()
        lat = res.latencies_ms
        worst = sorted(
            ((ms, i) for i, ms in enumerate(res.by_injection_ms) if ms is not None), reverse=True
        )[:3]
        self.log(
            "  slowest alarms (ms, injection #): " + ", ".join(f"{ms:.0f} #{i}" for ms, i in worst)
        )
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
        load = self._load(n, base, rate=rate, tag="lg-drain")
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
        assert self.envmon is not None
        text = self.envmon.log()
        errors = [x for x in text.splitlines() if x.startswith(("ERROR", "CRITICAL", "Traceback"))]
        self.figures["envmon_log_errors"] = len(errors)
        for x in errors[:5]:
            self.log(f"  envmon log: {x}")
