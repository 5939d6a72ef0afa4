"""``envmon console`` as a real process on a free loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.servers import free_port, wait_port


class ConsoleProcess:
    """The console for the settings file ``config`` (its [console] listen is
    overridden to a free port); stderr goes to ``log_path``. ``src``: run the
    envmon of that source tree, as ``ServiceProcess`` does."""

    def __init__(self, config: Path, log_path: Path, src: Path | None = None) -> None:
        self.config = config
        self.log_path = log_path
        self.src = src
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        log = self.log_path.open("ab")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["ENVMON_CONSOLE__LISTEN"] = f"127.0.0.1:{self.port}"
        if self.src is not None:
            env["PYTHONPATH"] = str(self.src)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "envmon.cli", "console", "--config", str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.src,
        )
        log.close()
        try:
            wait_port(self.port, timeout_s, proc=self.proc)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"envmon console did not start ({exc}):\n{self.log()}") from None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout_s: float = 15.0) -> int:
        """SIGTERM; 0 for a clean stop. (uvicorn shuts down, then dies by the
        signal it caught, as systemd expects: -SIGTERM counts as clean.)"""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        try:
            code = self.proc.wait(timeout=timeout_s)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        assert time.monotonic() - t0 < timeout_s
        return 0 if code == -signal.SIGTERM else code

    def ensure_stopped(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


def envmon_cli(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``envmon ARGS --config FILE`` as a subprocess; raises on a non-zero exit."""
    result = subprocess.run(
        [sys.executable, "-m", "envmon.cli", *args, "--config", str(config)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"envmon {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
        )
    return result


def add_user(config: Path, name: str, role: str, password: str) -> None:
    """A user, added the way a site does (``envmon user add --password-stdin``)."""
    envmon_cli(
        config,
        "user",
        "add",
        name,
        "--role",
        role,
        "--full-name",
        f"{name.title()} Example",
        "--password-stdin",
        stdin=password + "\n",
    )
