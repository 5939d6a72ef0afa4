"""Signed acts: ``envmon ack``, ``shelve``, ``unshelve``, ``out-of-service``,
``in-service`` and ``room-state`` (design.md section 8).

Each checks what it can before asking for the password (the alarm exists and
can take the act, the sensor or room is in the facility), signs through the
one signing path, and waits for the running service to apply the request.
"""

from __future__ import annotations

import argparse
import time
from contextlib import closing
from pathlib import Path

from envmon.alarms.events import Alarm, AlarmState
from envmon.cli.common import Subcommands, open_journal, settings_of
from envmon.cli.signing_io import add_signing_options, check_signing_args, sign_and_wait
from envmon.errors import EnvmonError
from envmon.facility import Facility, load_facility
from envmon.journal.journal import Journal
from envmon.readings import RoomState, isoformat_ns
from envmon.settings import Settings
from envmon.signing.rules import Act, shelve_until_ns
from envmon.timeparse import parse_duration, parse_time


def register(sub: Subcommands) -> None:
    p = sub.add("ack", cmd_ack, "acknowledge an alarm (signed)")
    p.add_argument("id", metavar="ID")
    add_signing_options(p)

    p = sub.add("shelve", cmd_shelve, "shelve an alarm: recorded, not notified (signed)")
    p.add_argument("id", metavar="ID")
    p.add_argument("--for", dest="duration", required=True, metavar="DURATION", help="e.g. 2h")
    add_signing_options(p)

    p = sub.add("unshelve", cmd_unshelve, "end an alarm's shelving (signed)")
    p.add_argument("id", metavar="ID")
    add_signing_options(p)

    p = sub.add(
        "out-of-service",
        cmd_out_of_service,
        "take a sensor out of service: stored, not judged, no comm_loss (signed)",
    )
    p.add_argument("sensor", metavar="SENSOR")
    p.add_argument("--until", metavar="T", help="back in service then (e.g. +4h or ISO 8601)")
    add_signing_options(p)

    p = sub.add("in-service", cmd_in_service, "return a sensor to service (signed)")
    p.add_argument("sensor", metavar="SENSOR")
    add_signing_options(p)

    p = sub.add(
        "room-state",
        cmd_room_state,
        "set a room's operating state until the next change from any source (signed)",
    )
    p.add_argument("room", metavar="ROOM")
    p.add_argument("state", choices=[s.value for s in RoomState])
    add_signing_options(p)


def cmd_ack(args: argparse.Namespace) -> int:
    check_signing_args(args, Act.ACK)
    settings = settings_of(args)
    with _journal(settings) as journal:
        alarm = _alarm(journal, args.id, "ack")
        if alarm.state is AlarmState.ACTIVE_ACKED:
            raise EnvmonError(f"ack: alarm {alarm.id} was already acknowledged by {alarm.acked_by}")
        if alarm.shelved:
            raise EnvmonError(f"ack: alarm {alarm.id} is shelved: unshelve it first")
        return sign_and_wait(
            args, settings, journal, Act.ACK, alarm.id, f"alarm {alarm.id} acknowledged"
        )


def cmd_shelve(args: argparse.Namespace) -> int:
    check_signing_args(args, Act.SHELVE)
    settings = settings_of(args)
    for_s = parse_duration(args.duration, "shelve: --for")
    max_s = settings.alarms.max_shelve_s
    shelve_until_ns(0, for_s, max_s)  # refuse before asking for the password
    with _journal(settings) as journal:
        alarm = _alarm(journal, args.id, "shelve")
        if alarm.shelved:
            raise EnvmonError(f"shelve: alarm {alarm.id} is already shelved: unshelve it first")
        return sign_and_wait(
            args,
            settings,
            journal,
            Act.SHELVE,
            alarm.id,
            f"alarm {alarm.id} shelved for {args.duration}",
            params=lambda: {"until_ns": shelve_until_ns(time.time_ns(), for_s, max_s)},
        )


def cmd_unshelve(args: argparse.Namespace) -> int:
    check_signing_args(args, Act.UNSHELVE)
    settings = settings_of(args)
    with _journal(settings) as journal:
        alarm = _alarm(journal, args.id, "unshelve")
        if not alarm.shelved:
            raise EnvmonError(f"unshelve: alarm {alarm.id} is not shelved")
        return sign_and_wait(
            args, settings, journal, Act.UNSHELVE, alarm.id, f"alarm {alarm.id} unshelved"
        )


def cmd_out_of_service(args: argparse.Namespace) -> int:
    check_signing_args(args, Act.OUT_OF_SERVICE)
    settings = settings_of(args)
    sensor = _sensor(_facility(settings), args.sensor, "out-of-service")
    now_ns = time.time_ns()
    until_ns = parse_time(args.until, now_ns, "out-of-service: --until") if args.until else None
    if until_ns is not None and until_ns <= now_ns:
        raise EnvmonError(f"out-of-service: --until {isoformat_ns(until_ns)} is not in the future")
    with _journal(settings) as journal:
        period = journal.requests.service_states().period_at(sensor, now_ns)
        if period is not None:
            raise EnvmonError(f"out-of-service: sensor {sensor} is already out of service")
        until = "" if until_ns is None else f" until {isoformat_ns(until_ns)}"
        return sign_and_wait(
            args,
            settings,
            journal,
            Act.OUT_OF_SERVICE,
            sensor,
            f"sensor {sensor} out of service{until}",
            params=lambda: {"until_ns": until_ns},
        )


def cmd_in_service(args: argparse.Namespace) -> int:
    check_signing_args(args, Act.IN_SERVICE)
    settings = settings_of(args)
    sensor = _sensor(_facility(settings), args.sensor, "in-service")
    with _journal(settings) as journal:
        if not journal.requests.service_states().out_of_service(sensor, time.time_ns()):
            raise EnvmonError(f"in-service: sensor {sensor} is in service")
        return sign_and_wait(
            args, settings, journal, Act.IN_SERVICE, sensor, f"sensor {sensor} back in service"
        )


def cmd_room_state(args: argparse.Namespace) -> int:
    check_signing_args(args, Act.ROOM_STATE)
    settings = settings_of(args)
    facility = _facility(settings)
    if args.room not in facility.rooms:
        raise EnvmonError(f"room-state: no room {args.room!r} in {facility.path}")
    state = RoomState(args.state)
    with _journal(settings) as journal:
        return sign_and_wait(
            args,
            settings,
            journal,
            Act.ROOM_STATE,
            args.room,
            f"room {args.room} set to {state.value}",
            params=lambda: {"state": state.value},
        )


def _journal(settings: Settings) -> closing[Journal]:
    """The journal, writable, closed on the way out."""
    return closing(open_journal(settings, readonly=False))


def _alarm(journal: Journal, alarm_id: str, what: str) -> Alarm:
    alarm = journal.get_alarm(alarm_id.strip().lower())
    if alarm is None:
        raise EnvmonError(f"{what}: no alarm {alarm_id!r} in the journal (see `envmon alarms`)")
    if not alarm.open:
        raise EnvmonError(f"{what}: alarm {alarm.id} is already closed")
    return alarm


def _facility(settings: Settings) -> Facility:
    return load_facility(Path(settings.facility.file))


def _sensor(facility: Facility, sensor: str, what: str) -> str:
    if sensor not in facility.sensors:
        raise EnvmonError(f"{what}: no sensor {sensor!r} in {facility.path}")
    return sensor
