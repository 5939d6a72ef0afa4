"""Configuration loads in the journal: ``journal.configs``.

Each load of the facility or settings file is one ``config_load`` entry
(``envmon.config_load`` says what it holds). The queries a report needs:
the loads in a window (``loads``), the facility load in force at a time with
its limits (``in_force``), and the facility loads that were in force over a
window (``facility_timeline``: the one in force at its start, then each one
made during it), from which the limits in force follow with the room states.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from envmon.config_load import FACILITY, ConfigLoad, config_load_of
from envmon.journal._db import entry_from_row
from envmon.journal.audit import KIND_CONFIG_LOAD
from envmon.journal.requests import OUTCOME_OK, finish_in
from envmon.limits_snapshot import LimitsSnapshot

if TYPE_CHECKING:
    import sqlite3

    from envmon.journal.journal import Journal

_COLUMNS = "seq, ts_ns, kind, subject, data, os_user, hash"


class Configs:
    """The journal's configuration loads: ``journal.configs``."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    def record(self, data: Mapping[str, Any], *, finish_request: int | None = None) -> int:
        """Journal one load (``config_load.facility_load_data`` or
        ``settings_load_data``); returns its seq. ``finish_request``: the signed
        reload this load applies, finished as ``ok`` in the same transaction."""
        with self._journal._appending() as append:
            entry = append(KIND_CONFIG_LOAD, str(data["what"]), dict(data))
            if finish_request is not None:
                finish_in(append, finish_request, OUTCOME_OK, self._journal.path)
        return entry.seq

    def last(self, what: str) -> ConfigLoad | None:
        """The latest load of ``what`` (``facility`` or ``settings``), with the
        facility's file text: what the next load is compared with."""
        rows = self._journal._query(
            f"SELECT {_COLUMNS} FROM audit WHERE kind = ? AND subject = ? "
            "ORDER BY seq DESC LIMIT 1",
            (KIND_CONFIG_LOAD, what),
        )
        if not rows:
            return None
        load = self._load(rows[0])
        if load.text_seq is None:
            return load
        holder = self._data(load.text_seq)
        text = holder.get("text") if holder is not None else None
        return replace(load, text=text if isinstance(text, str) else None)

    def last_seq(self, what: str) -> int | None:
        """The seq of the latest load of ``what``, or None: one indexed lookup, for a
        reader that polls for a new load before reading it (``last``)."""
        rows = self._journal._query(
            "SELECT max(seq) FROM audit WHERE kind = ? AND subject = ?", (KIND_CONFIG_LOAD, what)
        )
        seq = rows[0][0] if rows else None
        return int(seq) if seq is not None else None

    def loads(self, from_ns: int, to_ns: int, what: str | None = None) -> list[ConfigLoad]:
        """Loads journaled in [from_ns, to_ns), oldest first (only ``what``'s, if given)."""
        sql = f"SELECT {_COLUMNS} FROM audit WHERE kind = ? AND ts_ns >= ? AND ts_ns < ?"
        params: list[Any] = [KIND_CONFIG_LOAD, from_ns, to_ns]
        if what is not None:
            sql += " AND subject = ?"
            params.append(what)
        return [self._load(r) for r in self._journal._query(sql + " ORDER BY seq", params)]

    def in_force(self, at_ns: int, what: str = FACILITY) -> ConfigLoad | None:
        """The last load of ``what`` journaled at or before ``at_ns``, with its limits."""
        rows = self._journal._query(
            f"SELECT {_COLUMNS} FROM audit WHERE kind = ? AND subject = ? AND ts_ns <= ? "
            "ORDER BY ts_ns DESC, seq DESC LIMIT 1",
            (KIND_CONFIG_LOAD, what, at_ns),
        )
        return self._load(rows[0]) if rows else None

    def facility_timeline(self, from_ns: int, to_ns: int) -> list[ConfigLoad]:
        """The facility load in force at ``from_ns`` (if any), then every facility
        load in [from_ns, to_ns), oldest first: each applies until the next."""
        first = self.in_force(from_ns - 1)
        during = self.loads(from_ns, to_ns, FACILITY)
        return ([first] if first is not None else []) + during

    def _load(self, row: sqlite3.Row) -> ConfigLoad:
        entry = entry_from_row(row)
        data = entry.data
        limits: LimitsSnapshot | None = None
        record = data.get("limits")
        if record is None and data.get("limits_seq") is not None:
            holder = self._data(int(data["limits_seq"]))
            record = holder.get("limits") if holder is not None else None
        if isinstance(record, dict):
            limits = LimitsSnapshot.from_record(record)
        return config_load_of(entry.seq, entry.ts_ns, entry.subject, data, limits)

    def _data(self, seq: int) -> dict[str, Any] | None:
        rows = self._journal._query(
            "SELECT data FROM audit WHERE seq = ? AND kind = ?", (seq, KIND_CONFIG_LOAD)
        )
        if not rows:
            return None
        data = json.loads(rows[0]["data"])
        return data if isinstance(data, dict) else None
