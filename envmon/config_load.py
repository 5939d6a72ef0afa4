"""A load of the facility or settings file, as the journal records it (design.md section 10).

Every load (service start, SIGHUP, ``envmon reload``) is one ``config_load``
entry: when, which file and its SHA-256, who (a signature) or what
(``unsigned``, with the source), why, and the key-by-key difference from the
previous load of that file (``config_diff``). A facility load also carries
the limits it put in force (``limits_snapshot``) and the file's text, so the
next load can be compared with it; both are stored only when they differ
from the previous load's, else the entry names the entry that holds them
(``text_seq``, ``limits_seq``). A settings load carries its flattened,
secret-masked settings. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from envmon.config_diff import Change, Flat, diff, flatten_facility
from envmon.errors import ConfigError
from envmon.facility import Facility, parse_facility
from envmon.limits_snapshot import LimitsSnapshot
from envmon.readings import isoformat_ns
from envmon.signing.signature import Signature

FACILITY: Final = "facility"
SETTINGS: Final = "settings"
UNSIGNED: Final = "unsigned"


class ConfigSource(StrEnum):
    """What made the service load a file."""

    SERVICE_START = "service start"
    SIGHUP = "SIGHUP"
    SIGNED_RELOAD = "envmon reload"


@dataclass(frozen=True, slots=True)
class ConfigLoad:
    """One journaled load of the facility (``what = "facility"``) or the settings.

    ``changes`` is None when there was nothing to compare with (the first
    load, or a previous load journaled without its contents); ``note`` says
    why. ``limits`` (facility loads) are the limits it put in force;
    ``text`` and ``flat`` are filled only by ``journal.configs.last``.
    """

    seq: int
    at_ns: int
    what: str
    path: str
    sha256: str
    source: str
    signature: Signature | None = None
    signature_seq: int | None = None
    request_id: int | None = None
    reason: str = ""
    changes: tuple[Change, ...] | None = None
    note: str = ""
    limits: LimitsSnapshot | None = None
    envmon_version: str = ""
    text: str | None = None
    flat: Mapping[str, Any] | None = None
    text_seq: int | None = None
    """The entry holding this load's file text (itself, or an earlier load of the same file)."""
    limits_seq: int | None = None
    """The entry holding ``limits``."""

    @property
    def signed(self) -> bool:
        return self.signature is not None

    def to_json(self) -> dict[str, Any]:
        """The report's ``config_changes`` object: ``by`` is the signature (section
        8's object) or ``"unsigned"``, with the ``source`` either way."""
        return {
            "at": isoformat_ns(self.at_ns),
            "what": self.what,
            "path": self.path,
            "sha256": self.sha256,
            "by": self.signature.to_json() if self.signature is not None else UNSIGNED,
            "source": self.source,
            "reason": self.reason,
            "changes": None if self.changes is None else [c.to_json() for c in self.changes],
            "note": self.note,
            "seq": self.seq,
        }


def changes_json(changes: Sequence[Change]) -> list[dict[str, Any]]:
    """Changes as plain JSON (what a signature covers, after a JSON round trip)."""
    loaded: list[dict[str, Any]] = json.loads(json.dumps([c.to_json() for c in changes]))
    return loaded


def changes_from_json(items: Sequence[Mapping[str, Any]]) -> tuple[Change, ...]:
    return tuple(Change(i["key"], i.get("old"), i.get("new")) for i in items)


@dataclass(frozen=True, slots=True)
class Compared:
    """The difference from the previous load (None: not comparable, ``note`` says why)."""

    changes: tuple[Change, ...] | None
    note: str = ""


def compare_facility(
    previous: ConfigLoad | None, facility: Facility, limits: LimitsSnapshot
) -> Compared:
    """``facility`` against the previous facility load: the file's keys and every
    resolved limit. The same file that now resolves to other limits (another
    envmon version) shows those limits as the changes."""
    if previous is None:
        return Compared(None, "the first facility load in the journal: nothing to compare with")
    if previous.sha256 == facility.sha256:
        if previous.limits is None or previous.limits == limits:
            return Compared(())
        note = "the same file resolves to other limits (another envmon version)"
        return Compared(tuple(diff(previous.limits.flat(), limits.flat())), note)
    if previous.text is None:
        return Compared(
            None,
            f"the previous facility load (seq {previous.seq}) was journaled without its text",
        )
    try:
        before = parse_facility(previous.text)
        old = flatten_facility(before)
    except ConfigError as exc:
        return Compared(None, f"the previous facility file (seq {previous.seq}) no longer "
                        f"validates: {exc}")  # fmt: skip
    return Compared(tuple(diff(old, flatten_facility(facility))))


def compare_settings(previous: ConfigLoad | None, flat: Flat) -> Compared:
    if previous is None:
        return Compared(None, "the first settings load in the journal: nothing to compare with")
    if previous.flat is None:
        return Compared(
            None, f"the previous settings load (seq {previous.seq}) was journaled without them"
        )
    return Compared(tuple(diff(dict(previous.flat), flat)))


@dataclass(frozen=True, slots=True)
class LoadBy:
    """Who or what caused a load: a signature (with its request), or the source alone."""

    source: ConfigSource
    signature: Signature | None = None
    signature_seq: int | None = None
    request_id: int | None = None

    @property
    def reason(self) -> str:
        return self.signature.comment if self.signature is not None else ""


def facility_load_data(
    facility: Facility,
    text: str | None,
    limits: LimitsSnapshot,
    previous: ConfigLoad | None,
    compared: Compared,
    by: LoadBy,
    envmon_version: str,
) -> dict[str, Any]:
    """The data of a facility ``config_load`` entry (``text`` None: not known, e.g.
    the file changed between reading and journaling)."""
    data = _common(FACILITY, str(facility.path or ""), facility.sha256, compared, by)
    data["envmon_version"] = envmon_version
    same_file = previous is not None and previous.sha256 == facility.sha256
    if same_file and previous is not None and previous.text_seq is not None:
        data["text_seq"] = previous.text_seq
    elif text is not None:
        data["text"] = text
    if previous is not None and previous.limits == limits and previous.limits_seq is not None:
        data["limits_seq"] = previous.limits_seq
    else:
        data["limits"] = limits.to_record()
    return data


def settings_load_data(
    path: str, sha256: str, flat: Flat, compared: Compared, by: LoadBy, envmon_version: str
) -> dict[str, Any]:
    """The data of a settings ``config_load`` entry."""
    data = _common(SETTINGS, path, sha256, compared, by)
    data["envmon_version"] = envmon_version
    data["flat"] = flat
    return data


def _common(what: str, path: str, sha256: str, compared: Compared, by: LoadBy) -> dict[str, Any]:
    return {
        "what": what,
        "path": path,
        "sha256": sha256,
        "source": by.source.value,
        # Kept from the first record format, which had only path, sha256 and this.
        "detail": by.source.value,
        "by": None if by.signature is None else by.signature.to_record(),
        "signature_seq": by.signature_seq,
        "request_id": by.request_id,
        "reason": by.reason,
        "changes": None if compared.changes is None else changes_json(compared.changes),
        "note": compared.note,
    }


def config_load_of(
    seq: int, ts_ns: int, subject: str, data: Mapping[str, Any], limits: LimitsSnapshot | None
) -> ConfigLoad:
    """A journaled load from its entry; also reads the first format (path, sha256,
    detail). ``limits``: the snapshot, resolved by the caller (``limits_seq``)."""
    by = data.get("by")
    changes = data.get("changes")
    first_format = "source" not in data
    return ConfigLoad(
        seq=seq,
        at_ns=ts_ns,
        what=data.get("what", subject),
        path=data.get("path", ""),
        sha256=data.get("sha256", ""),
        source=data.get("source", data.get("detail", "")),
        signature=Signature.from_record(by) if by is not None else None,
        signature_seq=data.get("signature_seq"),
        request_id=data.get("request_id"),
        reason=data.get("reason", ""),
        changes=None if changes is None else changes_from_json(changes),
        note="journaled before envmon recorded differences"
        if first_format
        else data.get("note", ""),
        limits=limits,
        envmon_version=data.get("envmon_version", ""),
        flat=data.get("flat"),
        text_seq=seq if "text" in data else data.get("text_seq"),
        limits_seq=seq if "limits" in data else data.get("limits_seq"),
    )
