"""``envmon console`` as a process: HTTPS with a site certificate, and the refusals
a site can meet when starting it (plain HTTP beyond loopback, no journal yet)."""

from __future__ import annotations

import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from envmon.journal.journal import Journal
from tests.support.certs import make_pki
from tests.support.console_proc import ConsoleProcess

pytestmark = pytest.mark.integration


def settings_file(tmp_path: Path, console: str = "") -> Path:
    facility = tmp_path / "facility.toml"
    facility.write_text('site = "s"\n[[rooms]]\nid = "R1"\ngrade = "C"\n')
    config = tmp_path / "envmon.toml"
    config.write_text(
        f'[storage]\nstate_dir = "{tmp_path / "state"}"\n'
        f'[facility]\nfile = "{facility}"\n[console]\n{console}\n'
    )
    return config


def run_console(config: Path, listen: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "envmon.cli", "console", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"ENVMON_CONSOLE__LISTEN": listen, "PATH": "/usr/bin:/bin"},
    )


class TestConsoleProcess:
    def test_https_with_the_sites_certificate(self, tmp_path: Path) -> None:
        """Given cert_file and key_file the console speaks TLS; its cookie is Secure."""
        pki = make_pki(tmp_path / "pki")
        config = settings_file(
            tmp_path, f'cert_file = "{pki.server.cert}"\nkey_file = "{pki.server.key}"\n'
        )
        Journal(tmp_path / "state" / "journal.sqlite").close()
        proc = ConsoleProcess(config, tmp_path / "console.log")
        proc.start()
        try:
            context = ssl.create_default_context(cafile=str(pki.ca_cert))
            url = f"https://127.0.0.1:{proc.port}/signin"
            with urllib.request.urlopen(url, context=context, timeout=10) as response:
                headers = response.headers
                assert response.status == 200
            cookie = headers["set-cookie"]
            assert cookie.startswith("__Host-envmon=")
            assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
            assert "max-age=" in headers["strict-transport-security"]
            with pytest.raises(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{proc.port}/signin", timeout=5)
        finally:
            assert proc.stop() == 0, proc.log()

    def test_plain_http_beyond_loopback_is_refused(self, tmp_path: Path) -> None:
        """Without a certificate, 0.0.0.0 is refused with one line naming the keys."""
        config = settings_file(tmp_path)
        Journal(tmp_path / "state" / "journal.sqlite").close()
        result = run_console(config, "0.0.0.0:18443")
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "only on loopback" in lines[0] and "console.cert_file" in lines[0]

    def test_no_journal_yet(self, tmp_path: Path) -> None:
        """Before the service has run there is nothing to show: one clear line."""
        result = run_console(settings_file(tmp_path), "127.0.0.1:18443")
        assert result.returncode == 1
        assert "no journal yet" in result.stderr
        assert "Traceback" not in result.stderr
