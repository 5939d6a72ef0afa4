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
work on (to the alarm worker, the main thread, the store); the main thread
handles signals and reloads, signed or not (``runtime/reload.py`` journals
each), and feeds the systemd watchdog while ingest is healthy. A message is acknowledged
once it is durable and judged (``AckGate``), in arrival order.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Final

from envmon.alarms.commands import Reload
from envmon.alarms.engine import AlarmEngine
from envmon.alarms.worker import AlarmWorker
from envmon.calibration.job import ReminderJob
from envmon.calibration.state import CalibrationRecord
from envmon.facility import Facility
from envmon.ingest.ackgate import AckGate, Pending
from envmon.ingest.drift import ClockDriftMonitor
from envmon.ingest.ingestor import Ingestor
from envmon.ingest.mqtt import Delivery, MqttSource
from envmon.ingest.rejects import RejectLog
from envmon.ingest.router import MessageToken, Router
from envmon.ingest.stage import IngestStage
from envmon.journal.journal import Journal
from envmon.journal.requests import SignedRequest
from envmon.notify.alarm_topic import MqttAlarmPublisher
from envmon.notify.dispatcher import Dispatcher
from envmon.notify.factory import build_notifiers
from envmon.notify.fanout import AlarmFanout
from envmon.runtime.anchors import AnchorWriter
from envmon.runtime.clock import SYSTEM_CLOCK, Clock
from envmon.runtime.health import IngestHealth
from envmon.runtime.heap import freeze_long_lived
from envmon.runtime.jobs import Jobs
from envmon.runtime.lifecycle import Closes, Lifecycle
from envmon.runtime.reload import Reloader, read_facility
from envmon.runtime.stats import StatsCollector, StatsReporter
from envmon.runtime.systemd import SystemdNotifier
from envmon.sensor_service import ServiceStates
from envmon.settings import Settings
from envmon.store.stage import StoreStage

log = logging.getLogger("envmon.service")

STOP_BUDGET_S: Final = 8.0


class Service:
    """The running envmon: construct, ``start()``, ``run_until_stopped()``, ``stop()``."""

    def __init__(
        self,
        settings: Settings,
        facility: Facility,
        clock: Clock = SYSTEM_CLOCK,
        facility_text: str | None = None,
    ):
        self.settings = settings
        self.facility = facility
        self.clock = clock
        self._facility_text = facility_text
        settings.storage.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        prefix = settings.mqtt.prefix

        self.journal = Journal(
            settings.storage.journal_path,
            clock_ns=clock.wall_ns,
            key=settings.storage.journal_key_bytes,
        )
        self.reloader = Reloader(self.journal, facility, self._apply_facility)
        # Signed calibration records and reminders sent, as the journal has them.
        calibration = self.journal.calibration.records()
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
            # The notifiers name parameters as the facility in force does, reloads included.
            Dispatcher(
                build_notifiers(settings.notify, lambda: self.facility.parameters),
                settings.notify,
                clock.wall_ns,
            ),
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
            on_calibration=self._on_calibration,
        )
        self.router = Router(
            Ingestor(facility, settings.ingest, prefix, calibration),
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
        self.anchors = AnchorWriter(
            self.journal, self.store, lambda: self.facility.site, clock.wall_ns
        )
        self.jobs = Jobs(
            settings,
            facility,
            self.worker,
            self.journal,
            self.stats_reporter.report,
            ReminderJob(
                facility,
                settings.calibration,
                self.fanout.tell_people,
                records=calibration,
                already=self.journal.calibration.reminders_sent(),
                journal=self.journal.calibration.record_reminders,
                clock_ns=clock.wall_ns,
            ),
            clock,
            write_anchor=self.anchors.write,
            on_reload=self.request_signed_reload,
        )
        self.ingest = IngestStage(self.mqtt, self.router)
        # Consumers before producers; stopped in reverse, then closed in reverse.
        # The last anchor is written once the alarm worker has stopped writing.
        self.lifecycle = Lifecycle(
            [
                Closes("journal", self.journal.close),
                self.store,
                self.anchors,
                self.fanout,
                self.worker,
                self.jobs,
                self.ingest,
            ],
            clock,
        )

        self.health = IngestHealth(stuck_after_s=settings.ingest.stuck_after_s)
        self.systemd = SystemdNotifier()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._signed_reloads: queue.SimpleQueue[SignedRequest] = queue.SimpleQueue()

    # --- wiring that closes a cycle: ingest feeds the store, the store's progress
    # releases acknowledgements through the MQTT client that feeds ingest.

    def _on_messages(self, messages: list[Delivery], received_ns: int) -> None:
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

    def _on_calibration(self, records: Sequence[CalibrationRecord]) -> None:
        """A calibration record applied (alarm worker): ingest stamps by it from the next
        reading on, the reminders follow its due date."""
        self.router.ingestor.replace_calibration(records)
        self.jobs.reminders.replace_records(records)

    def _on_active_count(self, active: int) -> None:
        self.stats.alarms_active = active

    # --- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        self.reloader.record_start(self.settings, self._facility_text)
        self._facility_text = None
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
        self._wake.set()

    def request_reload(self) -> None:
        """A bare SIGHUP: reload the facility file, journaled as unsigned."""
        self._reload.set()
        self._wake.set()

    def request_signed_reload(self, request: SignedRequest) -> None:
        """A signed ``envmon reload`` (from the scheduler's poll of the journal)."""
        self._signed_reloads.put(request)
        self._wake.set()

    def run_until_stopped(self) -> None:
        """The main loop: reloads and the watchdog; returns when asked to stop."""
        watchdog_every = self.systemd.watchdog_interval_s()
        while True:
            self._wake.wait(timeout=min(1.0, watchdog_every))
            self._wake.clear()
            if self._stop.is_set():
                return
            if self._reload.is_set():
                self._reload.clear()
                self.reload_facility()
            while not self._signed_reloads.empty():
                self.reloader.reload_signed(self._signed_reloads.get_nowait())
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
        """Load the facility file again (unsigned); keep the running one if it is wrong."""
        self.reloader.reload_unsigned()

    def _apply_facility(self, new: Facility) -> None:
        """Put a validated, journaled facility in force (the main thread)."""
        self.jobs.reschedule_rooms(new)
        self.router.ingestor.replace_facility(new)
        self.worker.submit(Reload(new))
        self.facility = new


def run_service(settings: Settings) -> int:
    """Entry point of ``envmon run``; returns the process exit code."""
    facility, text = read_facility(Path(settings.facility.file))
    service = Service(settings, facility, facility_text=text)
    service.install_signal_handlers()
    service.start()
    try:
        service.run_until_stopped()
    finally:
        service.stop()
    return 0
