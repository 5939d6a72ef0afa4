"""What the batch record takes from the journal besides excursions (design.md section 10).

Frozen value types only, as the journal reading hands them to ``build_report``
and as the report carries them out: alarms with their shelved periods, the
limits each configuration load put in force and the intervals they applied,
rows of the audit extract, and the journal head. The logic lives in
``alarms.py``, ``limits.py`` and ``audit_extract.py``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from envmon.alarms.events import Alarm
from envmon.limits_snapshot import LimitSet, LimitsSnapshot
from envmon.readings import StateInForce, isoformat_ns
from envmon.signing.signature import Signature


@dataclass(frozen=True, slots=True)
class ShelvedPeriod:
    """One signed shelving of an alarm: from when, until when it was asked for, and
    when and by whom it ended (``ended_by`` None: it ran out, or it lasts)."""

    from_ns: int
    until_ns: int | None
    by: Signature
    to_ns: int | None = None
    """When it was unshelved; None while it lasts."""
    ended_by: Signature | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "from": isoformat_ns(self.from_ns),
            "to": isoformat_ns(self.to_ns) if self.to_ns is not None else None,
            "until": isoformat_ns(self.until_ns) if self.until_ns is not None else None,
            "by": self.by.to_json(),
            "reason": self.by.comment,
            "ended_by": self.ended_by.to_json() if self.ended_by is not None else None,
        }


@dataclass(frozen=True, slots=True)
class AlarmRecord:
    """An alarm as the journal holds it now (signatures included), with its shelvings."""

    alarm: Alarm
    shelved: tuple[ShelvedPeriod, ...] = ()


@dataclass(frozen=True, slots=True)
class LimitsSource:
    """Which configuration load put limits in force: its journal seq (None: today's
    file, when the journal has no load from before the window), the file's
    SHA-256, and who signed it (``by`` None: unsigned) and how it was loaded."""

    seq: int | None
    sha256: str
    signed: bool
    by: str | None
    load: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def text(self) -> str:
        """One line for tables: ``seq 12, envmon reload, signed by jdoe, sha256 1f2e3d4c``."""
        where = f"seq {self.seq}, " if self.seq is not None else ""
        who = f"signed by {self.by}" if self.by is not None else "UNSIGNED"
        return f"{where}{self.load}, {who}, sha256 {self.sha256[:8]}"


@dataclass(frozen=True, slots=True)
class LimitsLoad:
    """A facility load's limits, in force from ``at_ns`` until the next load."""

    at_ns: int
    snapshot: LimitsSnapshot
    source: LimitsSource


@dataclass(frozen=True, slots=True)
class LimitInterval:
    """The limits of one room (or piece of equipment) and parameter over
    ``[from_ns, to_ns)``: one room state under one configuration load."""

    room: str
    equipment: str | None
    parameter: str
    room_state: StateInForce
    from_ns: int
    to_ns: int
    limits: LimitSet
    """``LimitSet()`` when the load set no limit for that state."""
    source: LimitsSource


@dataclass(frozen=True, slots=True)
class ExtractRow:
    """One journal entry of the audit extract, told in words (never a hash or secret)."""

    seq: int
    ts_ns: int
    kind: str
    subject: str
    user: str | None
    """The named user who acted (a signature, a sign-in, a refused attempt); None for
    the service's own entries."""
    os_user: str
    text: str


@dataclass(frozen=True, slots=True)
class JournalHead:
    """The journal's chain head when the report was made."""

    seq: int
    sha256: str
