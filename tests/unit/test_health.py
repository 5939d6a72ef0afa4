"""When the main loop stops feeding the systemd watchdog."""

from __future__ import annotations

from dataclasses import dataclass

from envmon.runtime.health import IngestHealth


@dataclass
class Progress:
    written_lines: int = 0
    spooled_lines: int = 0
    dead_lettered_lines: int = 0
    pending: int = 0


class TestIngestHealth:
    def test_idle_service_is_healthy(self) -> None:
        """No pending readings is never stuck, however long it lasts."""
        h = IngestHealth(stuck_after_s=10)
        assert h.check(mqtt_connected=True, writer=Progress(), alarms_alive=True, now=0)[0]
        assert h.check(mqtt_connected=True, writer=Progress(), alarms_alive=True, now=1000)[0]

    def test_pending_without_progress_becomes_unhealthy(self) -> None:
        """Readings waiting with nothing stored past stuck_after_s stop the watchdog."""
        h = IngestHealth(stuck_after_s=10)
        w = Progress(written_lines=5, pending=3)
        assert h.check(mqtt_connected=True, writer=w, alarms_alive=True, now=0)[0]
        assert h.check(mqtt_connected=True, writer=w, alarms_alive=True, now=9)[0]
        ok, why = h.check(mqtt_connected=True, writer=w, alarms_alive=True, now=11)
        assert not ok and "3 readings waiting" in why
        w.spooled_lines = 3
        assert h.check(mqtt_connected=True, writer=w, alarms_alive=True, now=12)[0]

    def test_dead_alarm_worker_is_unhealthy(self) -> None:
        """A dead alarm worker is reported at once."""
        ok, why = IngestHealth().check(
            mqtt_connected=True, writer=Progress(), alarms_alive=False, now=0
        )
        assert not ok and "alarm worker" in why

    def test_long_broker_outage_is_unhealthy(self) -> None:
        """A short MQTT outage is tolerated; a long one is not."""
        h = IngestHealth(mqtt_down_after_s=60)
        assert h.check(mqtt_connected=False, writer=Progress(), alarms_alive=True, now=0)[0]
        assert h.check(mqtt_connected=False, writer=Progress(), alarms_alive=True, now=59)[0]
        assert not h.check(mqtt_connected=False, writer=Progress(), alarms_alive=True, now=61)[0]
        assert h.check(mqtt_connected=True, writer=Progress(), alarms_alive=True, now=62)[0]
