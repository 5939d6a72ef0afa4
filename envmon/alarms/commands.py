"""What the alarm worker is asked to do besides judging readings.

Each command is queued behind the readings that came before it
(``AlarmWorker.submit``) and carried out on the worker's thread: from
scheduled jobs (``envmon.runtime.jobs``), signed requests and reloads.
"""

from __future__ import annotations

from dataclasses import dataclass

from envmon.facility import Facility
from envmon.journal.requests import SignedRequest
from envmon.readings import RoomStateChange


@dataclass(frozen=True, slots=True)
class CheckStale:
    """Raise communication-loss alarms for sensors silent too long (wall time)."""

    now_ns: int


@dataclass(frozen=True, slots=True)
class CheckEscalations:
    """Escalate action alarms nobody acknowledged in time."""

    now_ns: int


@dataclass(frozen=True, slots=True)
class WriteLimits:
    """Write the limits in force, for Grafana; a slice of rooms at a time from ``first_room``."""

    now_ns: int
    first_room: int = 0


@dataclass(frozen=True, slots=True)
class Reload:
    """Judge against a reloaded facility from now on."""

    facility: Facility


@dataclass(frozen=True, slots=True)
class ApplySigned:
    """A signed request from the journal: ack, shelve, unshelve, out-of-service,
    in-service, room state, batch or calibration record (``envmon.signing.apply``)."""

    request: SignedRequest


@dataclass(frozen=True, slots=True)
class ExpireShelved:
    """Unshelve the alarms whose shelving has ended (wall time)."""

    now_ns: int


@dataclass(frozen=True, slots=True)
class SetRoomState:
    """A room state from a schedule (MQTT ones arrive with the readings)."""

    change: RoomStateChange


Command = (
    CheckStale
    | CheckEscalations
    | WriteLimits
    | Reload
    | ApplySigned
    | ExpireShelved
    | SetRoomState
)
