"""``envmon check-config``: what the service would run with, in words.

Prints the settings (never a secret's value), then per room its sensors and
the resolved limits for each room state with where each number came from,
and warnings a QA reviewer would raise: a Grade D room whose particles are
measured but have no in-operation limit (Annex 1 leaves them to the site),
a Grade A or B parameter without an alert level.
"""

from __future__ import annotations

import os
from pathlib import Path

from envmon.alarms.schedule import validate_schedules
from envmon.facility import Facility, Room
from envmon.gmp import ResolvedLimits, resolve_limits
from envmon.readings import (
    PARAMETERS_BY_KIND,
    PARTICLES_0_5UM,
    PARTICLES_5_0UM,
    UNIT_OF_PARAMETER,
    Kind,
    RoomState,
)
from envmon.settings import Settings

_LIMIT_KEYS = ("alert_high", "action_high", "alert_low", "action_low")
_RULE_KEYS = ("delay_s", "consecutive", "n_of_m", "window_s", "deadband")


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
            if not resolve_limits(room, p, RoomState.IN_OPERATION).has_limits
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
        for limits in (resolve_limits(room, parameter, state) for state in RoomState)
    )


def _limit_words(limits: ResolvedLimits) -> list[str]:
    words = []
    for key in _LIMIT_KEYS + _RULE_KEYS:
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


def describe_room(room: Room, facility: Facility, prefix: str) -> list[str]:
    title = f'room {room.id} "{room.name}"' if room.name else f"room {room.id}"
    grade = f"grade {room.grade}" if room.grade else f"ISO class {room.iso_class:g}"
    ref = f", diff_pressure against {room.reference}" if room.reference else ""
    lines = [f"{title}: {grade}{ref}"]
    lines.append(
        f"  state     {room.default_state.value} until {prefix}/{facility.site}/{room.id}/state "
        "says otherwise (default_state)"
    )
    sensors = facility.sensors_in(room.id)
    if not sensors:
        lines.append("  WARNING   no sensors: nothing in this room is monitored")
    kinds = []
    for sensor in sensors:
        lines.append(
            f"  sensor    {sensor.id} {sensor.kind.value}, every {sensor.interval_s:g} s, "
            f"communication loss after {sensor.stale_after:g} s"
        )
        if sensor.kind not in kinds:
            kinds.append(sensor.kind)
    parameters = [p for kind in kinds for p in PARAMETERS_BY_KIND[kind]]
    parameters += [p for p in room.limits if p not in parameters]
    for warning in limit_warnings(room, parameters, kinds):
        lines.append(f"  WARNING   {warning}")
    for parameter in parameters:
        unit = UNIT_OF_PARAMETER[parameter]
        for state in RoomState:
            limits = resolve_limits(room, parameter, state)
            words = _limit_words(limits)
            text = "; ".join(words) if words else _why_unjudged(limits)
            lines.append(f"  {parameter:<16} {state.value:<12} ({unit}) {text}")
    return lines


def describe(settings: Settings, facility: Facility) -> str:
    """The whole check-config output; raises ``ConfigError`` on any inconsistency."""
    validate_schedules(facility)
    lines = describe_settings(settings)
    lines.append(
        f"facility: {facility.path} (sha256 {facility.sha256[:16]}): site {facility.site}, "
        f"{len(facility.rooms)} rooms, {len(facility.sensors)} sensors"
    )
    for room in facility.model.rooms:
        lines.append("")
        lines.extend(describe_room(room, facility, settings.mqtt.prefix))
    for schedule in facility.model.schedules:
        lines.append(
            f"schedule: {schedule.room} -> {schedule.state.value} at cron '{schedule.cron}' "
            f"({schedule.timezone})"
        )
    lines.append("")
    lines.append("configuration OK")
    return "\n".join(lines) + "\n"
