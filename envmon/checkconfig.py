"""``envmon check-config``: what the service would run with, in words.

Prints the settings (never a secret's value), the parameters the facility
declares, then per room its sensors (measuring range, calibration state), the
resolved limits for each room state with where each number came from, and
each piece of equipment in the room with its sensors and limits the same way;
and warnings a QA reviewer would raise: a Grade D room whose particles are
measured but have no in-operation limit (Annex 1 leaves them to the site),
a Grade A or B parameter without an alert level.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from pathlib import Path

from envmon.alarms.schedule import validate_schedules
from envmon.calibration import CalibrationRecord, CalibrationStatus, state_of
from envmon.errors import ConfigError
from envmon.facility import Equipment, Facility, Room, Sensor, parameters_of
from envmon.gmp import (
    LIMIT_KEYS,
    RATE_KEYS,
    RULE_KEYS,
    ResolvedLimits,
    resolve_equipment_limits,
    strictest_limits,
)
from envmon.gmp import resolve_limits as resolve_room_limits
from envmon.ingest.ingestor import topic_field_problems
from envmon.readings import PARTICLES_0_5UM, PARTICLES_5_0UM, Kind, RoomState, StateInForce
from envmon.settings import Settings


def _secret_state(value: object) -> str:
    return "set" if value is not None else "not set"


def describe_settings(settings: Settings) -> list[str]:
    m, i, s = settings.mqtt, settings.influx, settings.storage
    auth = f"user {m.username}, password {_secret_state(m.password)}" if m.username else "anonymous"
    lines = [
        f"settings: {settings.config_path} (sha256 {settings.config_sha256[:16]})",
        f"  MQTT      {m.host}:{m.port} as client id {m.client_id!r} (persistent session), "
        f"topics {', '.join(m.topics)}, TLS {'on' if m.tls else 'off'}, {auth}",
    ]
    if i.api == "v2":
        lines.append(
            f"  InfluxDB  v2 API {i.url} bucket {i.bucket!r} org {i.org!r}, "
            f"token {_secret_state(i.token)}"
        )
    else:
        cred = f", user {i.username}, password {_secret_state(i.password)}" if i.username else ""
        lines.append(f"  InfluxDB  v1 API {i.url} database {i.database!r}{cred}")
    lines.append(
        f"  storage   {s.state_dir} (journal.sqlite, spool.sqlite; spool up to "
        f"{s.spool_max_mb:g} MB)"
    )
    days = ", ".join(str(d) for d in sorted(settings.calibration.remind_days, reverse=True))
    lines.append(f"  calibration reminders {days or 'none'} days before a due date")
    lines.append(f"  journal   {_journal_key_words(settings)}")
    lines.append(
        f"  anchors   the journal's chain head to InfluxDB (audit_anchor) every "
        f"{s.anchor_interval_s:g} s"
    )
    return lines


def _journal_key_words(settings: Settings) -> str:
    s = settings.storage
    if s.journal_key is None:
        return (
            "key not set: entries chained with SHA-256 only (whoever can write the file can "
            "rewrite the chain; set storage.journal_key_file)"
        )
    if _credential_named("storage_journal_key"):
        source = "from the systemd credential storage_journal_key"
    elif s.journal_key_file is not None:
        source = f"from {s.journal_key_file}"
    else:
        source = "from the environment"
    return f"key set ({source}): entries chained with HMAC-SHA256"


def _credential_named(name: str) -> bool:
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    return directory is not None and (Path(directory) / name).exists()


def limit_warnings(room: Room, parameters: list[str], kinds: list[Kind]) -> list[str]:
    """What a reviewer would object to in a room's limits, one line each."""
    warnings = []
    if room.grade == "D" and Kind.PARTICLES in kinds:
        missing = [
            p
            for p in (PARTICLES_0_5UM, PARTICLES_5_0UM)
            if not resolve_room_limits(room, p, RoomState.IN_OPERATION).has_limits
        ]
        if missing:
            warnings.append(
                f"grade D in operation: no limits for {', '.join(missing)}: measured, never "
                "judged (Annex 1 leaves them to the site: set "
                f"[rooms.limits.{missing[0]}.in_operation] action_high)"
            )
    if room.grade in ("A", "B"):
        without = [p for p in parameters if not _has_alert_level(room, p)]
        if without:
            warnings.append(
                f"grade {room.grade}: no alert levels for {', '.join(without)} (early warnings "
                "before action limits are expected in grades A and B: set alert_high / "
                "alert_low)"
            )
    return warnings


def _has_alert_level(room: Room, parameter: str) -> bool:
    return any(
        limits.alert_high is not None or limits.alert_low is not None
        for limits in (resolve_room_limits(room, parameter, state) for state in RoomState)
    )


def _limit_words(limits: ResolvedLimits) -> list[str]:
    words = []
    for key in LIMIT_KEYS + RULE_KEYS + RATE_KEYS:
        value = getattr(limits, key)
        if (
            value is None
            or (key in ("consecutive",) and value == 1)
            or (key in ("delay_s", "deadband") and value == 0)
        ):
            continue
        shown = list(value) if isinstance(value, tuple) else f"{value:.10g}"
        words.append(f"{key} {shown} [{limits.sources.get(key, 'default')}]")
    return words


def _why_unjudged(limits: ResolvedLimits) -> str:
    reasons = sorted({v for v in limits.sources.values() if v.startswith("none:")})
    return "no limits: stored, not judged" + (f" ({'; '.join(reasons)})" if reasons else "")


Resolve = Callable[[str, RoomState], ResolvedLimits]


def _limit_lines(
    facility: Facility, parameters: Sequence[str], resolve: Resolve, indent: str, strictest: bool
) -> list[str]:
    """Each parameter's limits per room state, and with ``strictest`` those in force
    while the state is unknown."""
    lines = []
    for parameter in parameters:
        unit = facility.unit_of(parameter)
        by_state = {state: resolve(parameter, state) for state in RoomState}
        shown: list[tuple[str, ResolvedLimits]] = [(s.value, lim) for s, lim in by_state.items()]
        if strictest:
            shown.append((StateInForce.UNKNOWN.value, strictest_limits(*by_state.values())))
        for state_word, limits in shown:
            words = _limit_words(limits)
            text = "; ".join(words) if words else _why_unjudged(limits)
            lines.append(f"{indent}{parameter:<16} {state_word:<12} ({unit}) {text}")
    return lines


def _state_lines(room: Room, facility: Facility, prefix: str) -> list[str]:
    topic = f"{prefix}/{facility.site}/{room.id}/state"
    if room.default_state == "strictest":
        until = (
            f"  state     unknown until {topic} says otherwise (default_state strictest): "
            "the stricter limit of the two states, listed as 'unknown' below"
        )
    else:
        until = f"  state     {room.default_state} until {topic} says otherwise (default_state)"
    clean_up = (
        f"  clean-up  {room.clean_up_s:g} s (clean_up_s): after in_operation -> at_rest the "
        "in_operation limits apply this long"
        if room.clean_up_s
        else "  clean-up  0 s (clean_up_s): at_rest limits apply from the state change"
    )
    return [until, clean_up]


def _calibration_words(sensor: Sensor, records: Sequence[CalibrationRecord], now_ns: int) -> str:
    state = state_of(sensor, records, now_ns)
    if state.status is CalibrationStatus.NOT_SET:
        return "calibration: no due date"
    assert state.due is not None
    cert = f", certificate {state.certificate}" if state.certificate else ""
    days = state.days_left(now_ns)
    if state.status is CalibrationStatus.OVERDUE:
        since = (state.due + timedelta(days=1)).isoformat()
        verdict = f"OVERDUE since {since} (readings stamped calibration_overdue)"
    else:
        verdict = f"in date, {days} days left"
    return f"calibration due {state.due.isoformat()}{cert} [{state.source}]: {verdict}"


def _sensor_lines(
    facility: Facility,
    sensor: Sensor,
    records: Sequence[CalibrationRecord],
    now_ns: int,
    indent: str,
) -> list[str]:
    measures = ""
    if sensor.parameters is not None:
        measures = f" measuring {', '.join(sensor.parameters)}"
    lines = [
        f"{indent}sensor    {sensor.id} {sensor.kind.value}{measures}, every "
        f"{sensor.interval_s:g} s, communication loss after {sensor.stale_after:g} s"
    ]
    ranges = []
    for parameter in parameters_of(sensor):
        lo, hi = facility.range_of(sensor, parameter)
        source = "datasheet" if parameter in sensor.range else "plausible"
        ranges.append(f"{parameter} {lo:g} to {hi:g} {facility.unit_of(parameter)} ({source})")
    lines.append(f"{indent}          range {'; '.join(ranges)}; beyond it: out_of_range")
    lines.append(f"{indent}          {_calibration_words(sensor, records, now_ns)}")
    return lines


def _sensors_described(
    facility: Facility,
    sensors: Sequence[Sensor],
    limited: Iterable[str],
    records: Sequence[CalibrationRecord],
    now_ns: int,
    indent: str,
) -> tuple[list[str], list[str]]:
    """The sensors' lines, and the parameters whose limits to describe: the measured
    ones in the facility's order, then those with limits but no sensor."""
    lines: list[str] = []
    measured: list[str] = []
    for sensor in sensors:
        lines += _sensor_lines(facility, sensor, records, now_ns, indent)
        measured += [p for p in parameters_of(sensor) if p not in measured]
    parameters = [p for p in facility.parameters if p in measured]
    parameters += [p for p in limited if p not in parameters]
    return lines, parameters


def describe_room(
    room: Room,
    facility: Facility,
    prefix: str,
    now_ns: int,
    records: Sequence[CalibrationRecord] = (),
) -> list[str]:
    title = f'room {room.id} "{room.name}"' if room.name else f"room {room.id}"
    grade = f"grade {room.grade}" if room.grade else f"ISO class {room.iso_class:g}"
    ref = f", diff_pressure against {room.reference}" if room.reference else ""
    lines = [f"{title}: {grade}{ref}"]
    lines += _state_lines(room, facility, prefix)
    sensors = facility.sensors_in(room.id)
    equipment = facility.equipment_in(room.id)
    if not sensors and not equipment:
        lines.append("  WARNING   no sensors: nothing in this room is monitored")
    sensor_lines, parameters = _sensors_described(
        facility, sensors, room.limits, records, now_ns, "  "
    )
    lines += sensor_lines
    kinds = [sensor.kind for sensor in sensors]
    for warning in limit_warnings(room, parameters, kinds):
        lines.append(f"  WARNING   {warning}")
    strictest = room.default_state == "strictest"
    lines += _limit_lines(
        facility, parameters, lambda p, s: resolve_room_limits(room, p, s), "  ", strictest
    )
    for item in equipment:
        lines += describe_equipment(item, facility, now_ns, records)
    return lines


def describe_equipment(
    item: Equipment,
    facility: Facility,
    now_ns: int,
    records: Sequence[CalibrationRecord] = (),
) -> list[str]:
    name = f' "{item.name}"' if item.name else ""
    lines = [f"  equipment {item.id} {item.type}{name} (limits its own; the room's state applies)"]
    sensors = facility.sensors_on(item.id)
    if not sensors:
        lines.append("    WARNING   no sensors: this equipment is not monitored")
    sensor_lines, parameters = _sensors_described(
        facility, sensors, item.limits, records, now_ns, "    "
    )
    lines += sensor_lines
    strictest = facility.rooms[item.room].default_state == "strictest"
    lines += _limit_lines(
        facility, parameters, lambda p, s: resolve_equipment_limits(item, p, s), "    ", strictest
    )
    return lines


def describe_parameters(facility: Facility) -> list[str]:
    declared = [info for info in facility.parameters.values() if not info.builtin]
    lines = []
    for info in declared:
        lo, hi = info.range
        lines.append(
            f'parameter: {info.id} "{info.name}" in {info.unit}, plausible {lo:g} to {hi:g}'
        )
    return lines


def describe(
    settings: Settings,
    facility: Facility,
    *,
    now_ns: int | None = None,
    records: Sequence[CalibrationRecord] = (),
    records_from: str | None = None,
) -> str:
    """The whole check-config output; raises ``ConfigError`` on any inconsistency.

    ``now_ns`` (default: the wall clock) is when calibration states are told;
    ``records`` the signed calibration records, read from ``records_from``
    (said in the output when given).
    """
    validate_schedules(facility)
    problems = topic_field_problems(settings.ingest, facility)
    if problems:
        raise ConfigError("\n".join(f"{settings.config_path}: {p}" for p in problems))
    now = time.time_ns() if now_ns is None else now_ns
    lines = describe_settings(settings)
    lines.append(
        f"facility: {facility.path} (sha256 {facility.sha256[:16]}): site {facility.site}, "
        f"{len(facility.rooms)} rooms, {len(facility.equipment)} pieces of equipment, "
        f"{len(facility.sensors)} sensors"
    )
    if records_from is not None:
        lines.append(f"calibration records: {len(records)} signed, from {records_from}")
    lines += describe_parameters(facility)
    for room in facility.model.rooms:
        lines.append("")
        lines.extend(describe_room(room, facility, settings.mqtt.prefix, now, records))
    for schedule in facility.model.schedules:
        lines.append(
            f"schedule: {schedule.room} -> {schedule.state.value} at cron '{schedule.cron}' "
            f"({schedule.timezone})"
        )
    lines.append("")
    lines.append("configuration OK")
    return "\n".join(lines) + "\n"
