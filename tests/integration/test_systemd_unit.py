"""deploy/systemd/envmon.service and envmon-console.service: verified by systemd-analyze,
with the contract's directives."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
UNIT = UNITS / "envmon.service"
CONSOLE_UNIT = UNITS / "envmon-console.service"
DEPLOYED_ENVMON = "/usr/local/bin/envmon"


def directives(text: str) -> dict[str, list[str]]:
    """Key → every value it is given (systemd allows repeated keys)."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        out.setdefault(key.strip(), []).append(value.strip())
    return out


def envmon_binary() -> str:
    """The envmon entry point of this environment (the venv's), for ExecStart."""
    found = shutil.which("envmon") or str(Path(sys.executable).with_name("envmon"))
    if not Path(found).exists():
        pytest.fail("no envmon executable: pip install -e . first")
    return found


@pytest.mark.integration
class TestSystemdUnit:
    @pytest.mark.parametrize("unit", [UNIT, CONSOLE_UNIT], ids=lambda u: u.name)
    def test_systemd_analyze_verify_passes_without_a_warning(
        self, unit: Path, tmp_path: Path
    ) -> None:
        """systemd-analyze verify accepts the unit and prints nothing about it."""
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            pytest.skip("systemd-analyze is not installed (Debian package: systemd)")
        # verify checks that ExecStart's binary exists: point it at this venv's envmon.
        text = unit.read_text().replace(DEPLOYED_ENVMON, envmon_binary())
        copy = tmp_path / unit.name
        copy.write_text(text)
        result = subprocess.run(
            [analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60
        )
        complaints = [
            line
            for line in (result.stdout + result.stderr).splitlines()
            if unit.name in line or "Unknown" in line
        ]
        assert result.returncode == 0, result.stderr
        assert complaints == []

    def test_verify_would_catch_a_misspelt_directive(self, tmp_path: Path) -> None:
        """The check above is not vacuous: a typo in a key is reported."""
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            pytest.skip("systemd-analyze is not installed (Debian package: systemd)")
        text = UNIT.read_text().replace(DEPLOYED_ENVMON, envmon_binary())
        copy = tmp_path / "envmon.service"
        copy.write_text(text.replace("ProtectHome=yes", "ProtectHme=yes"))
        result = subprocess.run(
            [analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60
        )
        assert "ProtectHme" in result.stdout + result.stderr

    def test_unit_runs_envmon_as_a_notify_service_with_a_watchdog(self) -> None:
        """Type=notify, WatchdogSec=30, NotifyAccess=main, reload by SIGHUP, restart on failure."""
        d = directives(UNIT.read_text())
        assert d["Type"] == ["notify"]
        assert d["WatchdogSec"] == ["30"]
        assert d["NotifyAccess"] == ["main"]
        assert d["ExecStart"] == [f"{DEPLOYED_ENVMON} run --config /etc/envmon/envmon.toml"]
        assert d["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
        assert d["Restart"] == ["on-failure"]
        assert d["TimeoutStopSec"] == ["15"]

    def test_unit_keeps_state_config_and_secrets_where_envmon_expects_them(self) -> None:
        """State and config directories, and both secrets as credentials named <section>_<key>."""
        d = directives(UNIT.read_text())
        assert d["DynamicUser"] == ["yes"]
        assert d["StateDirectory"] == ["envmon"]
        assert d["ConfigurationDirectory"] == ["envmon"]
        assert sorted(d["LoadCredential"]) == [
            "influx_token:/etc/envmon/credentials/influx_token",
            "mqtt_password:/etc/envmon/credentials/mqtt_password",
        ]
        assert d["UMask"] == ["0077"]

    @pytest.mark.parametrize("unit", [UNIT, CONSOLE_UNIT], ids=lambda u: u.name)
    def test_unit_is_hardened(self, unit: Path) -> None:
        """The sandboxing directives of the brief are all set."""
        d = directives(unit.read_text())
        expected = {
            "ProtectSystem": "strict",
            "ProtectHome": "yes",
            "PrivateTmp": "yes",
            "PrivateDevices": "yes",
            "NoNewPrivileges": "yes",
            "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
            "SystemCallArchitectures": "native",
            "MemoryDenyWriteExecute": "yes",
            "LockPersonality": "yes",
            "ProtectKernelTunables": "yes",
            "ProtectKernelModules": "yes",
            "ProtectKernelLogs": "yes",
            "ProtectControlGroups": "yes",
            "RestrictNamespaces": "yes",
            "RestrictRealtime": "yes",
            "CapabilityBoundingSet": "",
        }
        for key, value in expected.items():
            assert d.get(key) == [value], key
        assert "@system-service" in d["SystemCallFilter"]

    def test_console_unit_runs_the_console_as_the_services_user(self) -> None:
        """envmon console, as envmon.service's dynamic user, on the same state directory."""
        d = directives(CONSOLE_UNIT.read_text())
        service = directives(UNIT.read_text())
        assert d["ExecStart"] == [f"{DEPLOYED_ENVMON} console --config /etc/envmon/envmon.toml"]
        assert d["DynamicUser"] == ["yes"]
        # envmon.service's dynamic user is named after its unit: "envmon".
        assert "User" not in service
        assert d["User"] == ["envmon"]
        assert d["StateDirectory"] == service["StateDirectory"]
        assert d["UMask"] == ["0077"]
        assert "envmon.service" in d["After"][0]
