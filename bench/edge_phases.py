"""The MQTT edge's phases (issue 13): TLS ingest beside the plain one, and alarm latency
at a steady 300 readings/s against a naive bridge, in the same run.

TLS ingest restarts envmon on the broker's TLS listener (client certificates
required, TLS 1.2+), with the same client id, state and InfluxDB database, warms
it up again, then measures as the plain ingest phase does: rate = stored / (last
stored - first published), loss = PUBACKed - stored, each against a plain
ingest measured just before the restart. Twice: first with loadgen
on the plain listener (``ingest_tls``: only envmon's side is encrypted, as at a
site whose sensors publish on a plant-network listener; the target's figure),
then with loadgen on TLS too (``ingest_tls_both``), where the broker decrypts
the publisher's stream and loadgen encrypts it on the same 2 cores as envmon,
so that figure also measures the load generator and the broker.

The steady phase publishes 300 readings/s, and injects one alarm reading every
``STEADY_INTERVAL_S`` into rooms 200 on (the 5 000/s phase uses 0-199). envmon
and ``bench/naive_bridge.py`` receive every reading at the same time; the
probe times each one's retained alarm for each injection. Both processes' CPU
over the injection window is reported per 1 000 readings.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Final

from bench.alarm_probe import ENVMON, AlarmProbe, LatencyResult, percentile, slowest
from bench.harness import BENCH_DIR, HOUR_MS, cpu_ms_per_1000, cpu_seconds, wait_stored
from tests.support.servers import VictoriaMetrics

if TYPE_CHECKING:
    from bench.phases import BenchRun

STEADY_RATE_PER_S: Final = 300.0
STEADY_INTERVAL_S: Final = 0.1
STEADY_FIRST_ROOM: Final = 200
BRIDGE: Final = "bridge"
BRIDGE_ALARMS: Final = "bench/bridge/alarms/#"


def tls_ingest(run: BenchRun) -> None:
    """envmon over TLS: the ingest phase again, figures ``ingest_tls_*``, each as a
    share of a plain ingest measured just before (``ingest_plain_late``).

    Not of the run's first ingest phase, minutes earlier on an almost empty
    database: back to back, the two differ only in envmon's edge (the late
    plain phase came out 2-3 % below the first one, bench/README.md).
    """
    run.measure_ingest("ingest_plain_late", tls=False)
    run.start_envmon(tls=True)
    run.warm_up(tls=False)
    run.measure_ingest("ingest_tls", tls=False)
    run.measure_ingest("ingest_tls_both", tls=True)
    plain = run.figures["ingest_plain_late_per_s"]
    for key in ("ingest_tls", "ingest_tls_both"):
        run.figures[f"{key}_pct_of_plain"] = 100 * run.figures[f"{key}_per_s"] / plain


def steady_alarm_latency(run: BenchRun) -> None:
    """Alarm latency of envmon and the naive bridge at a steady 300 readings/s."""
    victoria = VictoriaMetrics(run.root / "victoria")
    victoria.start()
    bridge = _start_bridge(run.broker.port, victoria.url)
    try:
        injections = run.cfg.steady_injections
        duration_s = 4.0 + injections * STEADY_INTERVAL_S
        base = run.next_base()
        load = run.load(
            int(STEADY_RATE_PER_S * duration_s), base, rate=STEADY_RATE_PER_S, tag="lg-300"
        )
        probe = AlarmProbe(run.broker.port, sources=_sources())
        try:
            time.sleep(2.0)
            run.log(
                f"  300/s: injections from {time.strftime('%H:%M:%S')} on, "
                f"one every {STEADY_INTERVAL_S} s"
            )
            cpu0 = cpu_seconds(run.pid()), cpu_seconds(bridge.pid), time.monotonic()
            results = probe.run(injections, STEADY_INTERVAL_S, first_room=STEADY_FIRST_ROOM)
            cpu1 = cpu_seconds(run.pid()), cpu_seconds(bridge.pid), time.monotonic()
        finally:
            probe.close()
        result = load.wait()
    finally:
        bridge.send_signal(signal.SIGTERM)
        bridge.wait(timeout=30)
        victoria.stop()
    stored, _ = wait_stored(run.influx, base, base + HOUR_MS, result.acked)
    wall_s = cpu1[2] - cpu0[2]
    for name, key in ((ENVMON, "alarm300"), (BRIDGE, "bridge300")):
        _record(run, key, results[name])
    run.figures.update(
        envmon300_cpu_ms_per_1000=cpu_ms_per_1000(cpu1[0] - cpu0[0], wall_s, STEADY_RATE_PER_S),
        bridge300_cpu_ms_per_1000=cpu_ms_per_1000(cpu1[1] - cpu0[1], wall_s, STEADY_RATE_PER_S),
        steady300_lost=result.acked - stored,
    )
    run.log(
        "  CPU at 300/s, ms per 1000 readings: envmon "
        f"{run.figures['envmon300_cpu_ms_per_1000']:.1f}, bridge "
        f"{run.figures['bridge300_cpu_ms_per_1000']:.1f}; {stored}/{result.acked} stored"
    )


def _sources() -> dict[str, str]:
    return {ENVMON: "fac/site1/envmon/alarms/#", BRIDGE: BRIDGE_ALARMS}


def _start_bridge(port: int, influx_url: str) -> subprocess.Popen[str]:
    """bench/naive_bridge.py, subscribed when this returns."""
    bridge = subprocess.Popen(
        [
            sys.executable,
            str(BENCH_DIR / "naive_bridge.py"),
            "--port",
            str(port),
            "--influx-url",
            influx_url,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert bridge.stdout is not None
    if bridge.stdout.readline().strip() != "ready":
        bridge.kill()
        raise RuntimeError("naive_bridge did not subscribe")
    return bridge


def _record(run: BenchRun, key: str, res: LatencyResult) -> None:
    lat = res.latencies_ms
    run.figures.update(
        {
            f"{key}_p50_ms": percentile(lat, 50),
            f"{key}_p99_ms": percentile(lat, 99),
            f"{key}_max_ms": lat[-1] if lat else float("nan"),
            f"{key}_missed": res.injected - res.received,
        }
    )
    run.log(
        f"  {key} alarm latency at {STEADY_RATE_PER_S:.0f}/s: p50 {percentile(lat, 50):.1f} ms, "
        f"p99 {percentile(lat, 99):.1f} ms, max {run.figures[f'{key}_max_ms']:.1f} ms, "
        f"{res.received}/{res.injected} seen"
    )
    run.log(f"    slowest (ms, injection #): {slowest(res, 5)}")
