"""``envmon run``: builds the pipeline's components and runs them in one visible order.

    MQTT ──▶ ingest router ──▶ store (InfluxDB, else spool) ──▶ MQTT ack (AckGate)
                   └────────▶ alarm worker (AlarmEngine) ──▶ journal ──▶ notify
                                                             (InfluxDB `alarm`,
                                                              retained topics,
                                                              webhook, email)

Threads, and what each owns: the MQTT network thread reads, decodes (ingest
router) and writes every outgoing packet; the store thread owns InfluxDB and
the spool; the alarm worker owns the engine and the journal's alarm records;
the dispatcher has one thread per notifier; the scheduler's thread only hands
work to the alarm worker; the main thread handles signals and reloads and
feeds the systemd watchdog while ingest is healthy. A message is acknowledged
once it is durable and judged (``AckGate``), in arrival order.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Final

from envmon.alarms.engine import AlarmEngine
from envmon.alarms.worker import AlarmWorker, Reload
from envmon.errors import EnvmonError
from envmon.facility import Facility, load_facility
from envmon.ingest.ackgate import AckGate, Pending
from envmon.ingest.drift import ClockDriftMonitor
from envmon.ingest.ingestor import Ingestor
from envmon.ingest.mqtt import MqttSource
from envmon.ingest.rejects import RejectLog
from envmon.ingest.router import MessageToken, Router
from envmon.ingest.stage import IngestStage
from envmon.journal.journal import Journal
from envmon.notify.alarm_topic import MqttAlarmPublisher
from envmon.notify.dispatcher import Dispatcher
from envmon.notify.factory import build_notifiers
from envmon.notify.fanout import AlarmFanout
from envmon.runtime.clock import SYSTEM_CLOCK, Clock
from envmon.runtime.health import IngestHealth
from envmon.runtime.heap import freeze_long_lived
from envmon.runtime.jobs import Jobs
from envmon.runtime.lifecycle import Closes, Lifecycle
from envmon.runtime.stats import StatsCollector, StatsReporter
from envmon.runtime.systemd import SystemdNotifier
from envmon.sensor_service import ServiceStates
from envmon.settings import Settings
from envmon.store.stage import StoreStage

log = logging.getLogger("envmon.service")

STOP_BUDGET_S: Final = 8.0


class Service:
    """The running envmon: construct, ``start()``, ``run_until_stopped()``, ``stop()``."""

    def __init__(self, settings: Settings, facility: Facility, clock: Clock = SYSTEM_CLOCK):
        self.settings = settings
        self.facility = facility
        self.clock = clock
        settings.storage.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        prefix = settings.mqtt.prefix

        self.journal = Journal(settings.storage.journal_path, clock_ns=clock.wall_ns)
        self.stats = StatsCollector()
        self.acks: AckGate[MessageToken] = AckGate(self._send_acks)
        self.store: StoreStage[Pending[MessageToken]] = StoreStage(
            settings.influx, settings.storage, on_durable=self.acks.durable
        )
        self.mqtt = MqttSource(
            settings.mqtt,
            on_messages=self._on_messages,
            on_connection_change=self._on_connection,
        )
        self.fanout = AlarmFanout(
            self.store,
            MqttAlarmPublisher(self.mqtt.publish, prefix),
            Dispatcher(build_notifiers(settings.notify), settings.notify, clock.wall_ns),
        )
        engine = AlarmEngine(
            facility,
            restored=self.journal.open_alarms(),
            open_excursions=self.journal.open_excursions(),
            start_ns=clock.wall_ns(),
            checkpoint=self.journal.load_checkpoint(),
        )
        engine.prime()
        self.worker = AlarmWorker(
            engine,
            self.journal,
            self.fanout,
            self.store,
            on_judged=self.acks.judged,
            escalate_after_s=settings.notify.escalate_after_s,
            clock=clock,
            on_active_count=self._on_active_count,
            on_service_states=self._on_service_states,
        )
        self.router = Router(
            Ingestor(facility, settings.ingest, prefix),
            self.store,
            self.worker,
            self.mqtt.publish,
            prefix=prefix,
            rejects=RejectLog(settings.ingest.reject_log_interval_s),
            drift=ClockDriftMonitor(
                settings.ingest.clock_drift_warn_s,
                settings.ingest.clock_drift_window_s,
                settings.ingest.clock_drift_warn_every_s,
            ),
            stats=self.stats,
        )
        self.router.set_service_states(self.worker.service_states)
        self.stats_reporter = StatsReporter(self.stats, self.store, facility.site, clock.wall_ns)
        self.jobs = Jobs(
            settings, facility, self.worker, self.journal, self.stats_reporter.report, clock
        )
        self.ingest = IngestStage(self.mqtt, self.router)
        # Consumers before producers; stopped in reverse, then closed in reverse.
        self.lifecycle = Lifecycle(
            [
                Closes("journal", self.journal.close),
                self.store,
                self.fanout,
                self.worker,
                self.jobs,
                self.ingest,
            ],
            clock,
        )

        self.health = IngestHealth(stuck_after_s=settings.ingest.stuck_after_s)
        self.systemd = SystemdNotifier()
        self._stop = threading.Event()
        self._reload = threading.Event()

    # --- wiring that closes a cycle: ingest feeds the store, the store's progress
    # releases acknowledgements through the MQTT client that feeds ingest.

    def _on_messages(self, messages: list[tuple[str, bytes, int, int]], received_ns: int) -> None:
        self.router.on_messages(messages, received_ns)

    def _send_acks(self, tokens: list[MessageToken]) -> None:
        self.mqtt.ack_many(tokens)

    def _on_connection(self, connected: bool, reason: str) -> None:
        self.stats.mqtt_connected = connected
        where = f"{self.settings.mqtt.host}:{self.settings.mqtt.port}"
        if connected:
            log.info("MQTT connected to %s", where)
        else:
            log.warning("MQTT disconnected from %s: %s", where, reason)

    def _on_service_states(self, states: ServiceStates) -> None:
        self.router.set_service_states(states)

    def _on_active_count(self, active: int) -> None:
        self.stats.alarms_active = active

    # --- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        self.journal.record_config_load(
            "settings",
            str(self.settings.config_path or ""),
            self.settings.config_sha256,
            "service start",
        )
        self.journal.record_config_load(
            "facility", str(self.facility.path or ""), self.facility.sha256, "service start"
        )
        frozen, took_s = freeze_long_lived()
        log.debug("froze %d long-lived objects out of full GC passes in %.3f s", frozen, took_s)
        self.lifecycle.start()
        log.info(
            "envmon started: site %s, %d rooms, %d sensors; MQTT %s:%d; %s; state in %s; "
            "components in order: %s",
            self.facility.site,
            len(self.facility.rooms),
            len(self.facility.sensors),
            self.settings.mqtt.host,
            self.settings.mqtt.port,
            self.store.description,
            self.settings.storage.state_dir,
            ", ".join(self.lifecycle.order),
        )
        self.systemd.ready()

    def stop(self) -> None:
        """Stop taking messages, finish and acknowledge what was taken, then close."""
        self.systemd.stopping()
        self.lifecycle.stop(STOP_BUDGET_S)
        log.info("envmon stopped")

    def request_stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        self._reload.set()
        self._stop.set()  # wakes the main loop; it tells reload from stop

    def run_until_stopped(self) -> None:
        """The main loop: reloads and the watchdog; returns when asked to stop."""
        watchdog_every = self.systemd.watchdog_interval_s()
        while True:
            self._stop.wait(timeout=min(1.0, watchdog_every))
            if self._reload.is_set():
                self._reload.clear()
                self._stop.clear()
                self.reload_facility()
                continue
            if self._stop.is_set():
                return
            healthy, why = self.health.check(
                mqtt_connected=self.ingest.connected,
                writer=self.store.stats(),
                alarms_alive=self.worker.alive,
                now=self.clock.monotonic(),
            )
            if healthy:
                self.systemd.watchdog()
            else:
                log.warning("ingest unhealthy, not feeding the watchdog: %s", why)

    def install_signal_handlers(self) -> None:
        def _stop(signum: int, frame: FrameType | None) -> None:
            log.info("received %s, stopping", signal.Signals(signum).name)
            self.request_stop()

        def _hup(signum: int, frame: FrameType | None) -> None:
            log.info("received SIGHUP, reloading the facility file")
            self.request_reload()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGHUP, _hup)

    def reload_facility(self) -> None:
        """Load the facility file again; keep the running one if the new one is wrong."""
        path = self.facility.path
        if path is None:
            log.error("facility reload refused: the facility was not loaded from a file")
            return
        try:
            new = load_facility(path)
            self.jobs.reschedule_rooms(new)
        except EnvmonError as exc:
            log.error("facility reload refused, keeping the running facility: %s", exc)
            return
        self.router.ingestor.replace_facility(new)
        self.worker.submit(Reload(new))
        self.facility = new
        self.journal.record_config_load("facility", str(path), new.sha256, "reload (SIGHUP)")
        log.info(
            "facility reloaded from %s (sha256 %s): %d rooms, %d sensors",
            path,
            new.sha256[:12],
            len(new.rooms),
            len(new.sensors),
        )


def run_service(settings: Settings) -> int:
    """Entry point of ``envmon run``; returns the process exit code."""
    facility = load_facility(Path(settings.facility.file))
    service = Service(settings, facility)
    service.install_signal_handlers()
    service.start()
    try:
        service.run_until_stopped()
    finally:
        service.stop()
    return 0
