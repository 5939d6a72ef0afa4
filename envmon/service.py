"""``envmon run``: wires the pipeline, in a visible start and stop order.

    MQTT ──▶ Ingestor ──▶ DurableWriter (InfluxDB, else spool) ──▶ MQTT ack
                 └──────▶ alarm worker (AlarmEngine) ──▶ journal, alarm topics,
                                                         InfluxDB `alarm`, notifiers

Threads: paho's network thread only decodes and enqueues (never blocks), the
messages of each socket read as one batch to each consumer; the
DurableWriter thread owns InfluxDB and the spool; a message is acknowledged
(in arrival order, ``AckGate``) once it is durable and the alarm worker has
checkpointed its judgement; the alarm worker owns the engine and the journal;
the scheduler only enqueues work for the alarm worker; the main thread handles
signals and feeds the systemd watchdog while ingest is healthy.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Final

from apscheduler.schedulers.background import BackgroundScheduler

from envmon.alarms.engine import AlarmEngine
from envmon.alarms.events import AlarmEvent
from envmon.alarms.schedule import schedule_room_states
from envmon.calibration.job import ReminderJob
from envmon.errors import EnvmonError
from envmon.facility import Facility, load_facility
from envmon.ingest.ackgate import AckGate, Pending
from envmon.ingest.drift import ClockDriftMonitor, warnings_topic
from envmon.ingest.ingestor import Ingestor, Reject
from envmon.ingest.mqtt import Delivery, MqttSource
from envmon.ingest.rejects import RejectLog, rejected_payload
from envmon.journal.journal import AckRequest, Journal
from envmon.notify.alarm_topic import MqttAlarmPublisher
from envmon.notify.dispatcher import Dispatcher
from envmon.notify.escalation import due_escalations
from envmon.notify.factory import build_notifiers
from envmon.readings import Reading, RoomStateChange
from envmon.runtime.health import IngestHealth
from envmon.runtime.heap import freeze_long_lived
from envmon.runtime.stats import StatsCollector
from envmon.runtime.systemd import SystemdNotifier
from envmon.settings import Settings
from envmon.store.influx import make_writer
from envmon.store.limits_points import LimitsPoints
from envmon.store.lineproto import (
    alarm_line,
    room_state_line,
    stats_line,
)
from envmon.store.pipeline import DurableWriter, Point
from envmon.store.spool import Spool

log = logging.getLogger("envmon.service")

ACK_POLL_S: Final = 0.5
STOP_BUDGET_S: Final = 8.0
# Busy, the alarm worker checkpoints at most this often: the cost grows with
# the channels that changed, and acknowledgements wait for it.
CHECKPOINT_EVERY_S: Final = 0.25
LIMITS_ROOMS_PER_SLICE: Final = 100


class _CheckpointDue:
    """What the alarm worker's wait returns when the checkpoint is due before work."""


_CHECKPOINT_DUE: Final = _CheckpointDue()


MessageToken = tuple[int, int]
"""``(mid, qos)`` of a message: what the DurableWriter hands back once it is durable."""


@dataclass(frozen=True, slots=True)
class _StaleCheck:
    now_ns: int


@dataclass(frozen=True, slots=True)
class _EscalationCheck:
    now_ns: int


@dataclass(frozen=True, slots=True)
class _LimitsSnapshot:
    now_ns: int
    first_room: int = 0
    """Rooms are written a slice at a time, readings judged in between."""


@dataclass(frozen=True, slots=True)
class _Reload:
    facility: Facility


_WorkItem = (
    Reading
    | RoomStateChange
    | AckRequest
    | _StaleCheck
    | _EscalationCheck
    | _LimitsSnapshot
    | _Reload
    | None
)
_Judge = list[tuple[int, Reading | RoomStateChange]]
"""Messages to judge, in arrival order, with their arrival numbers."""
_Queued = _WorkItem | _Judge


class Service:
    """The running envmon: construct, ``start()``, then ``run_until_stopped()``."""

    def __init__(self, settings: Settings, facility: Facility) -> None:
        self.settings = settings
        self.facility = facility
        state_dir = settings.storage.state_dir
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.prefix = settings.mqtt.prefix
        self.site = facility.site

        self.journal = Journal(settings.storage.journal_path)
        self.engine = AlarmEngine(
            facility,
            restored=self.journal.open_alarms(),
            open_excursions=self.journal.open_excursions(),
            start_ns=time.time_ns(),
            checkpoint=self.journal.load_checkpoint(),
        )
        self.engine.prime()
        self._escalated: set[str] = set(self.journal.escalated_alarm_ids())
        self.ingestor = Ingestor(facility, settings.ingest, self.prefix)
        self.reject_log = RejectLog(settings.ingest.reject_log_interval_s)
        self.drift = ClockDriftMonitor(
            settings.ingest.clock_drift_warn_s,
            settings.ingest.clock_drift_window_s,
            settings.ingest.clock_drift_warn_every_s,
        )
        self.spool = Spool(
            settings.storage.spool_path,
            max_bytes=int(settings.storage.spool_max_mb * 1024 * 1024),
            warn_pct=settings.storage.spool_warn_pct,
        )
        self.influx = make_writer(settings.influx)
        self.durable: DurableWriter[Pending[MessageToken] | None] = DurableWriter(
            self.influx, self.spool, settings.influx, on_durable=self._on_durable
        )
        self.mqtt = MqttSource(
            settings.mqtt,
            on_messages=self._on_messages,
            on_connection_change=self._on_connection,
        )
        self._limits_points: LimitsPoints | None = None  # the alarm worker's
        # A message is acknowledged once durable and judged (envmon/ackgate.py).
        self.ack_gate: AckGate[MessageToken] = AckGate(self.mqtt.ack_many)
        self._seq = 0  # arrival order; paho's thread only
        self._judged_seq = -1  # the alarm worker's: last message judged
        self._checkpointed_seq = -1  # the alarm worker's: last message checkpointed
        self.alarm_publisher = MqttAlarmPublisher(self.mqtt.publish, self.prefix)
        self.dispatcher = Dispatcher(build_notifiers(settings.notify), settings.notify)
        self.stats = StatsCollector()
        self.health = IngestHealth(stuck_after_s=settings.ingest.stuck_after_s)
        self.systemd = SystemdNotifier()
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.reminders = ReminderJob(
            self.scheduler, facility, settings.calibration, self.dispatcher.submit
        )

        self._work: queue.SimpleQueue[_Queued] = queue.SimpleQueue()
        self._accepting = threading.Event()
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._alarm_thread = threading.Thread(
            target=self._alarm_worker, name="envmon-alarms", daemon=True
        )
        self._alarms_alive = threading.Event()

    # --- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        """Start consumers before producers: nothing arrives with nowhere to go."""
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
        self.durable.start()
        self.dispatcher.start()
        self._alarm_thread.start()
        self._schedule_jobs()
        self.scheduler.start()
        self._accepting.set()
        self.mqtt.start()
        log.info(
            "envmon started: site %s, %d rooms, %d sensors; MQTT %s:%d; %s; state in %s",
            self.site,
            len(self.facility.rooms),
            len(self.facility.sensors),
            self.settings.mqtt.host,
            self.settings.mqtt.port,
            self.influx.description,
            self.settings.storage.state_dir,
        )
        self.systemd.ready()

    def stop(self) -> None:
        """Stop consuming, flush and acknowledge what was taken, then close."""
        self.systemd.stopping()
        self._accepting.clear()
        deadline = time.monotonic() + STOP_BUDGET_S
        self.scheduler.shutdown(wait=False)
        self._work.put(None)
        self._alarm_thread.join(timeout=max(0.5, deadline - time.monotonic() - 5))
        self.durable.stop(timeout_s=max(1.0, deadline - time.monotonic() - 2))
        self.dispatcher.stop(timeout_s=max(0.5, deadline - time.monotonic() - 1.5))
        self.mqtt.stop()
        self.influx.close()
        self.spool.close()
        self.journal.close()
        log.info("envmon stopped")

    def request_stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        self._reload.set()
        self._stop.set()  # wake the main loop; it tells reload from stop

    def run_until_stopped(self) -> None:
        """Main loop: signals, reloads, watchdog; returns when asked to stop."""
        watchdog_every = self.systemd.watchdog_interval_s()
        while True:
            self._stop.wait(timeout=min(1.0, watchdog_every))
            if self._reload.is_set():
                self._reload.clear()
                self._stop.clear()
                self._reload_facility()
                continue
            if self._stop.is_set():
                return
            healthy, why = self.health.check(
                mqtt_connected=self.mqtt.connected,
                writer=self.durable.stats(),
                alarms_alive=self._alarm_thread.is_alive(),
                now=time.monotonic(),
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

    # --- paho network thread: decode and enqueue, never block ----------------

    def _on_messages(self, messages: list[Delivery], received_ns: int) -> None:
        """The messages of one socket read: decoded here, then handed on as one batch
        to the store and one to the alarm worker (one lock and one wake-up per read).

        Every message goes to the store, with its place in arrival order and its
        MQTT token, so that acknowledgements go out in order: a reading or room
        state to be stored and judged, anything else (rejects, own topics) with
        nothing to store.
        """
        if not self._accepting.is_set():
            return  # not acknowledged: the broker redelivers them to the next run
        handle = self.ingestor.handle
        to_store: list[tuple[Point | None, Pending[MessageToken] | None]] = []
        to_judge: _Judge = []
        seq = self._seq
        readings = 0
        for topic, payload, mid, qos in messages:
            seq += 1
            try:
                result = handle(topic, payload, received_ns)
                if type(result) is Reading:
                    readings += 1
                    # Formatted as line protocol by the store thread (store/pipeline.py).
                    to_store.append((result, Pending(seq, True, (mid, qos)) if qos else None))
                    to_judge.append((seq, result))
                    self._check_drift(result)
                elif type(result) is RoomStateChange:
                    to_store.append(
                        (room_state_line(result), Pending(seq, True, (mid, qos)) if qos else None)
                    )
                    to_judge.append((seq, result))
                else:
                    # Nothing to judge; acknowledged once stored in order.
                    to_store.append((None, Pending(seq, False, (mid, qos)) if qos else None))
                    if isinstance(result, Reject):
                        self.stats.reject(result.reason)
                        self._handle_reject(result, received_ns)
            except Exception:
                # A bug must not cost the rest of the read; this message stays
                # unacknowledged, and the broker redelivers it after a reconnect.
                log.exception("error handling a message on %s", topic)
        self._seq = seq
        self.stats.readings(readings)
        if to_store:
            self.durable.submit_many(to_store)
        if to_judge:
            self._work.put(to_judge)

    def _check_drift(self, reading: Reading) -> None:
        warning = self.drift.observe(reading)
        if warning is None:
            return
        log.warning("clock drift: %s", warning.detail)
        try:
            self.mqtt.publish(warnings_topic(self.prefix, self.site), warning.payload(), qos=1)
        except Exception as exc:  # noqa: BLE001 - a failed courtesy publish must not stop ingest
            log.debug("could not publish the clock drift warning: %s", exc)

    def _handle_reject(self, reject: Reject, received_ns: int) -> None:
        self.reject_log.note(reject, received_ns)
        try:
            self.mqtt.publish(
                f"{self.prefix}/{self.site}/envmon/rejected",
                rejected_payload(reject, received_ns),
                qos=0,
            )
        except Exception as exc:  # noqa: BLE001 - a failed courtesy publish must not stop ingest
            log.debug("could not publish reject notice: %s", exc)

    def _on_connection(self, connected: bool, reason: str) -> None:
        self.stats.mqtt_connected = connected
        if connected:
            log.info("MQTT connected to %s:%d", self.settings.mqtt.host, self.settings.mqtt.port)
        else:
            log.warning(
                "MQTT disconnected from %s:%d: %s",
                self.settings.mqtt.host,
                self.settings.mqtt.port,
                reason,
            )

    # --- DurableWriter thread ------------------------------------------------

    def _on_durable(self, tokens: list[Pending[MessageToken] | None]) -> None:
        self.ack_gate.durable([t for t in tokens if t is not None])

    # --- alarm worker: the only thread that touches the engine ---------------

    def _alarm_worker(self) -> None:
        get_nowait = self._work.get_nowait
        item: _Queued | _CheckpointDue
        next_checkpoint = time.monotonic() + CHECKPOINT_EVERY_S
        # Readings come a socket read at a time (one list), so blocking here wakes
        # this thread once per read, not per reading.
        while True:
            try:
                item = get_nowait()
            except queue.Empty:
                item = self._wait_for_work(next_checkpoint)
                if isinstance(item, _CheckpointDue):
                    self._checkpoint()
                    next_checkpoint = time.monotonic() + CHECKPOINT_EVERY_S
                    continue
            if item is None:
                self._checkpoint()
                return
            try:
                self._handle_work(item)
            except Exception:
                # The worker must survive anything one item does; the reading
                # itself is already on its way to storage.
                log.exception("alarm worker failed on %r", item)
            if time.monotonic() >= next_checkpoint:
                self._checkpoint()
                next_checkpoint = time.monotonic() + CHECKPOINT_EVERY_S

    def _wait_for_work(self, next_checkpoint: float) -> _Queued | _CheckpointDue:
        """Block for the next item; ``_CHECKPOINT_DUE`` when judged readings wait for
        their checkpoint and it is due first. Checkpoints are timed, not per burst:
        each one is a journal transaction (fsync), and per burst that cost a third
        of this thread's CPU at 1 000 readings/s."""
        if self._judged_seq <= self._checkpointed_seq and not self.engine.has_unsaved_state:
            return self._work.get()
        wait_s = next_checkpoint - time.monotonic()
        if wait_s <= 0:
            return _CHECKPOINT_DUE
        try:
            return self._work.get(timeout=wait_s)
        except queue.Empty:
            return _CHECKPOINT_DUE

    def _checkpoint(self) -> None:
        """Save what the engine judged, then let those messages be acknowledged."""
        try:
            self.journal.save_checkpoint(self.engine.checkpoint())
        except EnvmonError as exc:
            # Without the checkpoint the messages stay unacknowledged: the broker
            # keeps them, and the next start judges them again.
            self.engine.checkpoint_lost()
            log.error("alarm checkpoint not saved, acknowledgements held back: %s", exc)
            return
        self._checkpointed_seq = self._judged_seq
        self.ack_gate.judged(self._judged_seq)

    def _handle_work(self, item: _Queued) -> None:
        events: list[AlarmEvent]
        if isinstance(item, list):
            self._judge(item)
            return
        if isinstance(item, RoomStateChange):  # scheduled; MQTT ones come in batches
            events = self._room_state(item)
        elif isinstance(item, _StaleCheck):
            events = self.engine.check_stale(item.now_ns)
        elif isinstance(item, _EscalationCheck):
            events = due_escalations(
                self.engine.open_alarms(),
                item.now_ns,
                self.settings.notify.escalate_after_s,
                self._escalated,
            )
            self._escalated.update(e.alarm.id for e in events)
        elif isinstance(item, AckRequest):
            self._apply_ack(item)
            return
        elif isinstance(item, _Reload):
            self.engine.replace_facility(item.facility)
            self.engine.prime()
            frozen, took_s = freeze_long_lived()
            log.info("reload: %d long-lived objects re-frozen in %.3f s", frozen, took_s)
            self._work.put(_LimitsSnapshot(time.time_ns()))
            return
        elif isinstance(item, _LimitsSnapshot):
            next_room = self._write_limits(item.now_ns, item.first_room)
            if next_room is not None:
                self._work.put(_LimitsSnapshot(item.now_ns, next_room))
            return
        else:
            return
        if events:
            self._emit(events)

    def _judge(self, batch: _Judge) -> None:
        on_reading = self.engine.on_reading
        for seq, item in batch:
            self._judged_seq = seq  # stored whatever happens here: acked at the checkpoint
            try:
                events = on_reading(item) if isinstance(item, Reading) else self._room_state(item)
                if events:
                    self._emit(events)
            except Exception:
                # One bad item must not cost the rest of the batch their judgement.
                log.exception("alarm worker failed on %r", item)

    def _room_state(self, change: RoomStateChange) -> list[AlarmEvent]:
        events = self.engine.on_room_state(change)
        self.journal.record_room_state(change)
        if change.source != "mqtt":
            # MQTT states were stored on arrival; scheduled ones exist only here.
            self.durable.submit(room_state_line(change), None)
        return events

    def _write_limits(self, now_ns: int, first_room: int = 0) -> int | None:
        """The limits in force per room and measured parameter, for Grafana's limit lines.

        Writes ``LIMITS_ROOMS_PER_SLICE`` rooms from ``first_room`` on; returns
        where the next slice starts, None when done. A campus in one go held
        the alarm worker (and alarm latency) for a quarter of a second.
        """
        facility = self.engine.facility  # the alarm worker's view, swapped on reload
        if self._limits_points is None or self._limits_points.facility is not facility:
            self._limits_points = LimitsPoints(facility)
        rooms = facility.model.rooms[first_room : first_room + LIMITS_ROOMS_PER_SLICE]
        lines = self._limits_points.lines(rooms, self.engine.room_state, self.engine.limits, now_ns)
        self.durable.submit_many([(line, None) for line in lines])
        next_room = first_room + LIMITS_ROOMS_PER_SLICE
        return next_room if next_room < len(facility.model.rooms) else None

    def _apply_ack(self, request: AckRequest) -> None:
        """Outputs first, then the outcome: the CLI waiting on it then sees the topic updated."""
        try:
            events = self.engine.ack(
                request.alarm_id, request.user, request.comment, time.time_ns()
            )
        except EnvmonError as exc:
            self.journal.finish_ack_request(request.id, str(exc))
            return
        self._emit(events)
        self.journal.finish_ack_request(request.id, "ok")
        log.info(
            "alarm %s acknowledged by %s (OS user %s): %s",
            request.alarm_id,
            request.user,
            request.os_user,
            request.comment,
        )

    def _emit(self, events: list[AlarmEvent]) -> None:
        """Journal first (the record of truth), then every output."""
        try:
            self.journal.record_events(events, checkpoint=self.engine.checkpoint())
        except EnvmonError:
            self.engine.checkpoint_lost()
            raise
        for event in events:
            self.durable.submit(alarm_line(event), None)
            self.alarm_publisher.publish(event)
            log.info(
                "alarm %s %s: %s %s %s %s",
                event.alarm.id,
                event.transition.value,
                event.alarm.level.value,
                event.alarm.room,
                event.alarm.parameter,
                event.alarm.sensor,
            )
        self.dispatcher.submit(events)
        self.stats.alarms_active = sum(1 for a in self.engine.open_alarms() if a.active)

    # --- scheduled jobs (they only enqueue) -----------------------------------

    def _schedule_jobs(self) -> None:
        self.scheduler.add_job(
            lambda: self._work.put(_StaleCheck(time.time_ns())),
            "interval",
            seconds=self.settings.alarms.stale_check_interval_s,
            id="stale-check",
            misfire_grace_time=None,
            coalesce=True,
        )
        self.scheduler.add_job(
            lambda: self._work.put(_EscalationCheck(time.time_ns())),
            "interval",
            seconds=min(30.0, self.settings.notify.escalate_after_s / 4),
            id="escalation-check",
            misfire_grace_time=None,
            coalesce=True,
        )
        self.scheduler.add_job(
            lambda: self._work.put(_LimitsSnapshot(time.time_ns())),
            "interval",
            seconds=self.settings.alarms.limits_write_interval_s,
            id="limits",
            misfire_grace_time=None,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        self.scheduler.add_job(
            self._poll_acks,
            "interval",
            seconds=ACK_POLL_S,
            id="ack-poll",
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
        )
        self.scheduler.add_job(
            self._write_stats,
            "interval",
            seconds=self.settings.log.stats_interval_s,
            id="stats",
            misfire_grace_time=None,
            coalesce=True,
        )
        schedule_room_states(self.scheduler, self.facility, self._work.put)
        self.reminders.schedule()

    def _poll_acks(self) -> None:
        for request in self.journal.pending_ack_requests():
            self._work.put(request)

    def _write_stats(self) -> None:
        writer = self.durable.stats()
        fields = self.stats.snapshot(writer)
        self.durable.submit(stats_line(self.site, fields, time.time_ns()), None)
        log.info(
            "stats: %.1f readings/s, %d rejected, spool %d lines (%.1f %%), InfluxDB %s",
            fields["readings_per_s"],
            fields["rejects_total"],
            writer.spool_depth_lines,
            writer.spool_fill_pct,
            "healthy" if writer.influx_healthy else "UNREACHABLE",
        )

    # --- SIGHUP ---------------------------------------------------------------

    def _reload_facility(self) -> None:
        path = self.facility.path
        if path is None:
            log.error("facility reload refused: the facility was not loaded from a file")
            return
        try:
            new = load_facility(path)
        except EnvmonError as exc:
            log.error("facility reload refused, keeping the running facility: %s", exc)
            return
        self.ingestor.replace_facility(new)
        self._work.put(_Reload(new))
        schedule_room_states(self.scheduler, new, self._work.put)
        self.reminders.replace_facility(new)
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
