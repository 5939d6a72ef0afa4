"""The console beside the service under load (issue 15): do the service's figures move?

``envmon console`` is started on the run's settings (same journal), a user is
made for it, and a viewer signs in and keeps the live alarm page open
(bench/console_viewers.py: Debian's Chromium, or a client that does only what
the page's script asks of the console), holding the server-sent events
stream and refetching the alarm list on every journal change, as a
control-room screen does. With that running, the steady
1 000 readings/s CPU phase and the 5 000 readings/s alarm latency phase are
measured again; their figures get the suffix ``_console`` beside the ones the
same run measured without the console. The console's own CPU over both is
``console_cpu_s``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from bench.console_viewers import open_viewer
from bench.harness import cpu_seconds
from tests.support.console_proc import ConsoleProcess

if TYPE_CHECKING:
    from bench.phases import BenchRun

CONSOLE_FIRST_ROOM = 400
"""Probe rooms 0-199 are the first latency phase's (their alarms stay active), 200-399
latency300's."""
USER = "bench-engineer"
PASSWORD = "bench console passphrase 2026"
# Figures of the phases measured again with the console open.
MEASURED = (
    "cpu_ms_per_1000",
    "steady_lost",
    "alarm_p50_ms",
    "alarm_p99_ms",
    "alarm_max_ms",
    "alarm_missed",
    "alarm_load_lost",
)


def _envmon(run: BenchRun, *args: str, stdin: str | None = None) -> None:
    config = run.root / "envmon" / "envmon.toml"
    subprocess.run(
        [sys.executable, "-m", "envmon.cli", *args, "--config", str(config)],
        input=stdin,
        text=True,
        check=True,
        capture_output=True,
        env=_env(run),
        timeout=120,
    )


def _env(run: BenchRun) -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if run.cfg.envmon_src is not None:
        env["PYTHONPATH"] = str(run.cfg.envmon_src)
    return env


def console_side_by_side(run: BenchRun) -> None:
    _envmon(
        run,
        "user",
        "add",
        USER,
        "--role",
        "engineer",
        "--full-name",
        "Bench Engineer",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    log_path = run.root / "console.log"
    run.envmon_logs.append(log_path)  # its ERROR lines count in the run's log check
    console = ConsoleProcess(run.root / "envmon" / "envmon.toml", log_path, run.cfg.envmon_src)
    console.start()
    assert console.proc is not None
    pid = console.proc.pid
    without = {k: run.figures[k] for k in MEASURED if k in run.figures}
    try:
        viewer = open_viewer(run.cfg.console_viewer, console.url, USER, PASSWORD)
        try:
            rows0 = viewer.rows()
            cpu0 = cpu_seconds(pid)
            t0 = time.monotonic()
            run._steady_cpu()
            run._alarm_latency(first_room=CONSOLE_FIRST_ROOM)
            console_cpu = cpu_seconds(pid) - cpu0
            elapsed = time.monotonic() - t0
            # The page, never reloaded, must show the alarms raised meanwhile.
            deadline = time.monotonic() + 10
            rows = viewer.rows()
            while rows < rows0 + run.cfg.alarm_injections and time.monotonic() < deadline:
                time.sleep(0.2)
                rows = viewer.rows()
        finally:
            viewer.close()
    finally:
        console.stop()
    for key in MEASURED:
        if key in run.figures:
            run.figures[f"{key}_console"] = run.figures[key]
        if key in without:
            run.figures[key] = without[key]
    run.figures["console_rows_added"] = rows - rows0
    run.figures["console_cpu_s"] = console_cpu
    run.figures["console_cpu_pct"] = 100 * console_cpu / elapsed
    run.log(
        f"  with the console's live page open: CPU {run.figures['cpu_ms_per_1000_console']:.1f}"
        f" ms per 1000, alarm p99 {run.figures['alarm_p99_ms_console']:.1f} ms; the console "
        f"used {console_cpu:.1f} s of CPU ({run.figures['console_cpu_pct']:.1f} % of a core); "
        f"its page, never reloaded, went from {rows0} to {rows} alarm rows"
    )
